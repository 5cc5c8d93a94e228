"""Replaces each generated block of a doc with the output of the run that made it.

A block is  <!-- run: NAME -->  then a fenced block, then  <!-- end -->;  its new content is WORK/NAME.txt.
A block with no such file keeps the last run's content (netstat without net-tools, say).

    python3 scripts/run-blocks.py DOC WORK
"""
import pathlib
import re
import sys

doc, work = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
text = doc.read_text()


def block(match):
    output = work / f"{match.group(1)}.txt"
    if not output.exists():
        return match.group(0)
    return f"<!-- run: {match.group(1)} -->\n```\n{output.read_text().rstrip()}\n```\n<!-- end -->"


text, count = re.subn(r"<!-- run: ([\w-]+) -->\n```\n.*?```\n<!-- end -->", block, text, flags=re.S)
missing = [f.stem for f in work.glob("*.txt") if f"<!-- run: {f.stem} -->" not in text]
print(f"{doc}: {count} blocks; outputs without a block: {missing or 'none'}")
doc.write_text(text)
