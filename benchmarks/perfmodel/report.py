"""The per-net table both arm_model.py (estimates) and scripts/board_kit.sh (measurements)
print, so a board's result lines up with the estimate row by row. board_kit.sh writes the
same columns with printf: keep the two in step."""


def net_table_header(value_column: str) -> str:
    return f"| net | board | threads | {value_column} |\n|---|---|---|---|"


def net_table_row(net: str, board: str, threads: int, ms: float) -> str:
    return f"| {net} | {board} | {threads} | {ms:.2f} |"
