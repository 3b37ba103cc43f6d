import sys

if sys.argv[1:] == ["--version"]:
    from snapdiff import __version__

    print(f"snapdiff {__version__}")
else:
    from snapdiff.cli import main

    main()
