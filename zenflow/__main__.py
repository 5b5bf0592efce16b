from zenflow.cli.main import main

raise SystemExit(main())
