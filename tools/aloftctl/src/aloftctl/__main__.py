from aloftctl.cli import main

main()
