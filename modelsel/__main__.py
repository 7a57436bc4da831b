from modelsel.cli import main

main()
