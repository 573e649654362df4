from retrieval.cli.main import main

main(prog_name="sourced")
