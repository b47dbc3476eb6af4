"""Reporting: the files, tables and figures (PNG) of the evaluation report, the explanation reports and the
faithfulness benchmark; what goes in them is computed in `utils.evaluation`."""
