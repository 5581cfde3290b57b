from tariffcalc.cli import cli

cli()
