"""The `ccrkit` command line: argument parsing and dispatch only; the work lives in the stages."""
