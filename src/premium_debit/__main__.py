from premium_debit.cli import main

raise SystemExit(main())
