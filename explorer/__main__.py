from explorer.launcher import main

raise SystemExit(main())
