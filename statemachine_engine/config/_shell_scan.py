"""Where each ``{placeholder}`` of a shell command stands, as the shell would parse it.

The scanner walks a ``bash`` command template once, keeping a stack of quoting contexts
(unquoted, ``'...'``, ``$'...'``, ``"..."``, ``$(...)``, backquotes, ``$((...))``), comments
and here-documents, and the words of the simple command being read. For each placeholder it
reports a :class:`Site`: the quoting it stands in, and a *hazard* when the text around it is
handed to something that runs it as code (``eval``, ``sh -c``, ``ssh``, a here-document or
pipe into a shell, ...), where no quoting can protect a value.

A misjudged context costs at most the form of the output (the value is substituted from a
variable, never spliced into the text): it can never make a value run as shell code.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import attrs

from statemachine_engine.config._shell_rules import code_hazard, command_words, runs_stdin

_OPERATORS = ";&|<>()"

#: the interpolation grammar of ``config._interpolate``
PLACEHOLDER = re.compile(
    r"\{(?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)"
    r"(?P<filters>(?:\|[A-Za-z_]+(?::[^{}|]*)?)*)\}"
)


@attrs.frozen
class Site:
    """One placeholder in a template: ``match`` over the template, and how it stands.

    ``where`` is ``word`` (unquoted), ``double`` (inside ``"..."`` or an unquoted
    here-document), ``single`` (``'...'``), ``ansi`` (``$'...'``), ``arith`` (``$((...))``),
    ``comment``; ``hazard`` says why the value would be run as code, if it would.
    """

    match: re.Match[str]
    where: str
    hazard: str | None = None


@attrs.define
class _Frame:
    kind: str  # "top", "(", "$(", "`", "$((", "'", "$'", '"'
    words: list[str] = attrs.field(factory=list)
    word: list[str] | None = None  # the word being read (quotes removed), None between words
    sites: list[int] = attrs.field(factory=list)  # indexes of sites in the current command
    piped: list[int] = attrs.field(factory=list)  # sites of earlier commands of a pipeline
    depth: int = 0  # parentheses open inside $((...))


@attrs.define
class _Heredoc:
    delimiter: str
    strip_tabs: bool
    quoted: bool
    runner: str | None  # the program that reads the body as code, if any


def scan(template: str) -> list[Site]:
    """Every placeholder of ``template`` with where it stands (see :class:`Site`)."""
    return _Scanner(template).run()


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0
        self.stack = [_Frame("top")]
        self.sites: list[Site] = []
        self.heredocs: list[_Heredoc] = []

    # -- the walk ---------------------------------------------------------------------------
    def run(self) -> list[Site]:
        text = self.text
        while self.i < len(text):
            frame = self.stack[-1]
            if text[self.i] == "{" and self._placeholder(frame):
                continue
            if frame.kind == "'":
                self._single(frame)
            elif frame.kind in ("$'", '"'):
                self._quoted(frame)
            else:
                self._unquoted(frame)
        self._end_command(self._command_frame())
        return self.sites

    def _placeholder(self, frame: _Frame) -> bool:
        if self.i > 0 and self.text[self.i - 1] == "$":
            return False  # ${NAME} is the shell's own syntax
        match = PLACEHOLDER.match(self.text, self.i)
        if match is None:
            return False
        where = {"'": "single", "$'": "ansi", '"': "double", "$((": "arith"}.get(frame.kind, "word")
        if where == "word" and command_words(frame.words)[:1] == ["let"]:
            where = "arith"  # let evaluates its arguments as arithmetic
        self._add(match, where)
        self._append(match.group(0))
        self.i = match.end()
        return True

    def _add(self, match: re.Match[str], where: str, hazard: str | None = None) -> None:
        if hazard is None and where != "comment":
            for frame in self.stack:
                if frame.kind in ("'", "$'", '"'):
                    continue
                hazard = code_hazard(frame.words)
                if hazard:
                    break
        self.sites.append(Site(match, where, hazard))
        self._command_frame().sites.append(len(self.sites) - 1)

    def _command_frame(self) -> _Frame:
        for frame in reversed(self.stack):
            if frame.kind not in ("'", "$'", '"'):
                return frame
        return self.stack[0]  # pragma: no cover - the bottom frame is "top"

    def _append(self, chars: str) -> None:
        frame = self._command_frame()
        if frame.word is None:
            frame.word = []
        frame.word.append(chars)

    def _end_word(self, frame: _Frame) -> None:
        if frame.word is not None:
            frame.words.append("".join(frame.word))
            frame.word = None

    def _end_command(self, frame: _Frame, *, pipe: bool = False) -> None:
        self._end_word(frame)
        runner = runs_stdin(frame.words) if frame.piped else None
        if runner:
            reason = f"a pipe into {runner} runs the text piped to it as code"
            for index in frame.piped:
                site = self.sites[index]
                if site.where != "comment" and site.hazard is None:
                    self.sites[index] = attrs.evolve(site, hazard=reason)
        frame.piped = [*frame.piped, *frame.sites] if pipe else []
        frame.words = []
        frame.sites = []

    def _single(self, frame: _Frame) -> None:
        ch = self.text[self.i]
        if ch == "'":
            self.stack.pop()
        else:
            self._append(ch)
        self.i += 1

    def _quoted(self, frame: _Frame) -> None:
        text, i = self.text, self.i
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            self._append(text[i + 1])
            self.i += 2
        elif (ch == '"' and frame.kind == '"') or (ch == "'" and frame.kind == "$'"):
            self.stack.pop()
            self.i += 1
        elif frame.kind == '"' and ch in "$`":
            self._substitution()
        else:
            self._append(ch)
            self.i += 1

    def _substitution(self) -> None:
        """``$((``, ``$(`` or a backquote at ``i``: open its context (else one plain char)."""
        text, i = self.text, self.i
        if text.startswith("$((", i):
            self.stack.append(_Frame("$(("))
            self.i += 3
        elif text.startswith("$(", i):
            self.stack.append(_Frame("$("))
            self.i += 2
        elif text[i] == "`":
            self.stack.append(_Frame("`"))
            self.i += 1
        else:
            self._append(text[i])
            self.i += 1

    def _unquoted(self, frame: _Frame) -> None:
        text, i = self.text, self.i
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            if text[i + 1] != "\n":
                self._append(text[i + 1])
            self.i += 2
        elif ch == "'":
            self._append("")
            self.stack.append(_Frame("'"))
            self.i += 1
        elif text.startswith("$'", i):
            self._append("")
            self.stack.append(_Frame("$'"))
            self.i += 2
        elif ch == '"':
            self._append("")
            self.stack.append(_Frame('"'))
            self.i += 1
        elif ch == "`" and frame.kind == "`":
            self._end_command(frame)
            self.stack.pop()
            self.i += 1
        elif ch in "$`" and (ch == "`" or text.startswith("$(", i)):
            self._append("")
            self._substitution()
        elif frame.kind == "$((":
            self._arithmetic(frame)
        elif ch == "#" and frame.word is None:
            self._comment()
        elif ch == "\n":
            self._end_command(frame)
            self.i += 1
            self._heredoc_bodies()
        elif ch in " \t":
            self._end_word(frame)
            self.i += 1
        elif ch == ")" and frame.kind in ("(", "$("):
            self._end_command(frame)
            self.stack.pop()
            self.i += 1
        elif text.startswith("((", i) and frame.word is None:
            self._end_command(frame)  # bash's arithmetic command
            self.stack.append(_Frame("$(("))
            self.i += 2
        elif ch == "(" and frame.word is None:
            self._end_command(frame)
            self.stack.append(_Frame("("))
            self.i += 1
        elif text.startswith("<<", i) and not text.startswith("<<<", i):
            self._end_word(frame)
            self._heredoc_operator(frame)
        elif ch in _OPERATORS:
            self._operator(frame)
        else:
            self._append(ch)
            self.i += 1

    def _operator(self, frame: _Frame) -> None:
        text, i = self.text, self.i
        ch = text[i]
        if ch in "<>":
            self._end_word(frame)
            # a redirection's target is not an argument of the command
            self.i += 1
            while self.i < len(text) and text[self.i] in "<>&|":
                self.i += 1
            return
        pipe = ch == "|" and not text.startswith("||", i)
        self._end_command(frame, pipe=pipe)
        self.i += 2 if text.startswith(("||", "&&", ";;"), i) else 1

    def _arithmetic(self, frame: _Frame) -> None:
        text, i = self.text, self.i
        ch = text[i]
        if ch == "(":
            frame.depth += 1
        elif ch == ")":
            if frame.depth:
                frame.depth -= 1
            elif text.startswith("))", i):
                self.stack.pop()
                self.i += 2
                return
        self._append(ch)
        self.i += 1

    def _comment(self) -> None:
        end = self.text.find("\n", self.i)
        end = len(self.text) if end < 0 else end
        for match in PLACEHOLDER.finditer(self.text, self.i, end):
            self._add(match, "comment")
        self.i = end

    # -- here-documents ----------------------------------------------------------------------
    def _heredoc_operator(self, frame: _Frame) -> None:
        text = self.text
        self.i += 2
        strip_tabs = text.startswith("-", self.i)
        self.i += strip_tabs
        while self.i < len(text) and text[self.i] in " \t":
            self.i += 1
        start = self.i
        quote: str | None = None
        while self.i < len(text):
            ch = text[self.i]
            if quote:
                quote = None if ch == quote else quote
            elif ch in "'\"":
                quote = ch
            elif ch in " \t\n" or ch in _OPERATORS:
                break
            self.i += 1
        raw = text[start : self.i]
        delimiter = re.sub(r"[\\'\"]", "", raw)
        runner = runs_stdin([*frame.words, *(["".join(frame.word)] if frame.word else [])])
        self.heredocs.append(_Heredoc(delimiter, strip_tabs, raw != delimiter, runner))

    def _heredoc_bodies(self) -> None:
        pending, self.heredocs = self.heredocs, []
        for doc in pending:
            for start, line in self._lines():
                check = line.lstrip("\t") if doc.strip_tabs else line
                if check == doc.delimiter:
                    break
                for match in PLACEHOLDER.finditer(self.text, start, start + len(line)):
                    if match.start() > 0 and self.text[match.start() - 1] == "$":
                        continue
                    self._add(match, "double", _heredoc_hazard(doc))

    def _lines(self) -> Iterator[tuple[int, str]]:
        while self.i < len(self.text):
            start = self.i
            end = self.text.find("\n", start)
            end = len(self.text) if end < 0 else end
            self.i = end + 1
            yield start, self.text[start:end]


def _heredoc_hazard(doc: _Heredoc) -> str | None:
    if doc.quoted:
        return (
            f"nothing is substituted in a quoted here-document (<<'{doc.delimiter}'), so the "
            "value would be part of its text"
        )
    if doc.runner:
        return f"the here-document is a script for {doc.runner}, which runs its text as code"
    return None
