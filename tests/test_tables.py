from ccrkit.tables import pipe_table, table_cell


def test_pipe_table_layout():
    assert pipe_table(["a", "b"], [[1, 2.5]]) == "| a | b |\n|---|---|\n| 1 | 2.5 |"


def test_cell_with_line_breaks_stays_on_its_row():
    # a folded YAML scalar (`diagnosis: >`) ends with a newline: it must not end the row early
    table = pipe_table(["claim", "diagnosis"], [["x", "first line\nsecond  line\n"]])
    assert table.splitlines()[-1] == "| x | first line second line |"


def test_pipes_inside_a_cell_are_escaped_once():
    assert table_cell("a|b") == r"a\|b"
    assert table_cell(r"a\|b") == r"a\|b"
