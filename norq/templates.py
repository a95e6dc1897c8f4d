"""Message templates: jinja2, sandboxed, strict about missing variables.

jinja2 is imported only when a configuration actually has templates, so a
plain ``notify(body=...)`` never pays for it.

Template data is escaped for where it lands: an ``html`` part for HTML
(jinja's autoescaping), and the ``body`` for the markup of the provider that
will send it, when it has one (``render(..., escape=...)``, from
``Provider.text_escape``: Slack's ``&``, ``<``, ``>``). The template's own
text is never escaped, and a value marked trusted (``{{ value | safe }}``,
or a :class:`markupsafe.Markup` in the data) is inserted as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any

from norq._files import NotUtf8, read_utf8
from norq.errors import TemplateError

if TYPE_CHECKING:
    import jinja2

# templates -> name -> channel -> part (body, subject...) -> source
TemplateSources = Mapping[str, Mapping[str, Mapping[str, str]]]

TEMPLATE_SUFFIX = ".j2"

#: Template parts rendered with HTML autoescaping.
HTML_PARTS = frozenset({"html"})
#: The part whose data is escaped for the sending provider's markup.
MARKUP_PART = "body"

#: Escapes text for a markup: what a provider's ``text_escape`` returns.
Escape = Callable[[str], str]

# The escape of the body being rendered, read by the environment's finalize;
# a context variable, so concurrent renders (threads, tasks) keep their own.
_ESCAPE: ContextVar[Escape | None] = ContextVar("norq_template_escape", default=None)


class _CompiledPart:
    __slots__ = ("plain", "required", "template")

    def __init__(
        self,
        template: jinja2.Template,
        required: frozenset[str],
        plain: str | None = None,
    ) -> None:
        self.template = template
        self.required = required
        # For a template made only of text and ``{{ name }}``: the same as a
        # str.format pattern with ``{name!s}`` fields.
        self.plain = plain

    def render(self, data: Mapping[str, Any], escape: Escape | None = None) -> str:
        if self.plain is None:
            if escape is None:
                return self.template.render(data)
            token = _ESCAPE.set(escape)
            try:
                return self.template.render(data)
            finally:
                _ESCAPE.reset(token)
        # What jinja would produce: str() of each variable (no autoescape, and
        # finalize escapes as _Escaped does), and every variable is in ``data``.
        return self.plain.format_map(data if escape is None else _Escaped(data, escape))


class _Escaped:
    """The data as a ``str.format`` pattern reads it, each value escaped unless trusted."""

    __slots__ = ("_data", "_escape")

    def __init__(self, data: Mapping[str, Any], escape: Escape) -> None:
        self._data = data
        self._escape = escape

    def __getitem__(self, name: str) -> str:
        return _escaped(self._data[name], self._escape)


def _escaped(value: Any, escape: Escape) -> str:
    from markupsafe import Markup

    # Markup is what |safe returns: a value the template trusts.
    return str(value) if isinstance(value, Markup) else escape(str(value))


def _finalize(value: Any) -> Any:
    """Applied by jinja to every ``{{ expression }}``, never to the template's own text."""
    escape = _ESCAPE.get()
    return value if escape is None else _escaped(value, escape)


class Templates:
    """Compiled templates, ready to render per recipient."""

    def __init__(self, compiled: dict[tuple[str, str], dict[str, _CompiledPart]]) -> None:
        self._compiled = compiled

    @classmethod
    def empty(cls) -> Templates:
        return cls({})

    @classmethod
    def compile(cls, sources: TemplateSources, errors: list[tuple[str, str]]) -> Templates:
        """Compile every template; syntax errors are appended to ``errors`` with their path."""
        if not sources:
            return cls.empty()
        import jinja2
        from jinja2 import meta
        from jinja2.sandbox import SandboxedEnvironment

        environment = SandboxedEnvironment(
            undefined=jinja2.StrictUndefined, autoescape=False, finalize=_finalize
        )
        # HTML parts escape the data (a name holding "<script>" shows as text);
        # text parts (body, subject) go out as written.
        html_environment = SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=True)
        # range, cycler, namespace...: jinja resolves them without the data.
        environment_names = frozenset(environment.globals)
        compiled: dict[tuple[str, str], dict[str, _CompiledPart]] = {}
        for name, channels in sources.items():
            for channel, parts in channels.items():
                for part, source in parts.items():
                    path = f"templates.{name}.{channel}.{part}"
                    if not isinstance(source, str):
                        errors.append((path, f"must be a string, got {type(source).__name__}"))
                        continue
                    html = part in HTML_PARTS
                    env = html_environment if html else environment
                    try:
                        ast = env.parse(source)
                        undeclared = meta.find_undeclared_variables(ast)
                        required = frozenset(undeclared - environment_names)
                        template = env.from_string(source)
                    except jinja2.TemplateSyntaxError as exc:
                        errors.append((path, f"template syntax error on line {exc.lineno}: {exc}"))
                        continue
                    # The str.format fast path does not escape: HTML renders through jinja.
                    plain = None if html else _plain_pattern(ast, environment_names)
                    compiled.setdefault((name, channel), {})[part] = _CompiledPart(
                        template, required, plain
                    )
        return cls(compiled)

    def __bool__(self) -> bool:
        return bool(self._compiled)

    def names(self) -> list[str]:
        return sorted({name for name, _ in self._compiled})

    def channels_of(self, name: str) -> list[str]:
        return sorted(channel for n, channel in self._compiled if n == name)

    def variables(self, name: str, channel: str) -> frozenset[str]:
        """The data that every part of template ``name`` for ``channel`` needs."""
        parts = self._parts(name, channel).values()
        return frozenset[str]().union(*(part.required for part in parts))

    def render(
        self, name: str, channel: str, data: Mapping[str, Any], escape: Escape | None = None
    ) -> dict[str, str]:
        """Render every part of template ``name`` for ``channel``.

        ``escape`` escapes the data inserted into the ``body`` for the markup of
        the provider that will send it; ``None`` when its text is plain.
        """
        rendered = {}
        for part, compiled in self._parts(name, channel).items():
            missing = compiled.required.difference(data)
            if missing:
                raise TemplateError(
                    f"template {name!r} ({channel}.{part}) needs "
                    + ", ".join(repr(v) for v in sorted(missing))
                    + " but the data has "
                    + (", ".join(repr(k) for k in sorted(data)) or "no variables")
                )
            try:
                rendered[part] = compiled.render(data, escape if part == MARKUP_PART else None)
            except Exception as exc:  # StrictUndefined on nested attributes, sandbox violations
                raise TemplateError(
                    f"template {name!r} ({channel}.{part}) failed to render: {exc}"
                ) from exc
        return rendered

    def _parts(self, name: str, channel: str) -> dict[str, _CompiledPart]:
        parts = self._compiled.get((name, channel))
        if parts is None:
            if name not in self.names():
                known = ", ".join(self.names()) or "none are configured"
                raise TemplateError(f"unknown template {name!r} (known: {known})")
            raise TemplateError(
                f"template {name!r} has no {channel!r} version; it has: "
                + ", ".join(self.channels_of(name))
                + f". Add templates.{name}.{channel} to the config"
            )
        return parts


def _plain_pattern(ast: jinja2.nodes.Template, environment_names: frozenset[str]) -> str | None:
    """The template as a ``str.format`` pattern, if it is only text and names; else None.

    Most notification templates are "Your code is {{ code }}": rendering those
    by joining strings skips jinja's per-render context set-up, the largest
    cost of building a message. Anything else (filters, tags, attributes, and
    names of the environment's globals, which the data may or may not
    override) renders through jinja.
    """
    from jinja2 import nodes

    pieces: list[str] = []
    for statement in ast.body:
        if not isinstance(statement, nodes.Output):
            return None
        for node in statement.nodes:
            if type(node) is nodes.TemplateData:
                pieces.append(node.data.replace("{", "{{").replace("}", "}}"))
            elif (
                type(node) is nodes.Name
                and node.ctx == "load"
                and node.name.isidentifier()
                and node.name not in environment_names
            ):
                pieces.append(f"{{{node.name}!s}}")
            else:
                return None
    return "".join(pieces)


def load_template_dir(directory: Path, errors: list[tuple[str, str]]) -> dict[str, Any]:
    """Read ``NAME.CHANNEL.j2`` (the body) and ``NAME.CHANNEL.PART.j2`` files."""
    sources: dict[str, Any] = {}
    if not directory.is_dir():
        errors.append(("templates_dir", f"{directory} is not a directory"))
        return sources
    for file in sorted(directory.glob(f"*{TEMPLATE_SUFFIX}")):
        pieces = file.name[: -len(TEMPLATE_SUFFIX)].split(".")
        if len(pieces) not in (2, 3) or not all(pieces):
            errors.append(
                (
                    "templates_dir",
                    f"{file.name}: name template files NAME.CHANNEL.j2 or NAME.CHANNEL.PART.j2",
                )
            )
            continue
        name, channel = pieces[0], pieces[1]
        part = pieces[2] if len(pieces) == 3 else "body"
        try:
            text = read_utf8(file)
        except NotUtf8 as exc:
            errors.append(("templates_dir", str(exc)))
            continue
        sources.setdefault(name, {}).setdefault(channel, {})[part] = text
    return sources
