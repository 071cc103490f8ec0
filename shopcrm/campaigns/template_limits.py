"""Budgets for the templates marketers write: time, output, loops, value sizes and numbers.

Jinja's sandbox keeps a template away from Python's internals, not from the machine's memory
and time. Without limits a template builds a string of tens of megabytes in one expression
(``'x'|center(50000000)``, ``'{:>50000000}'.format(1)``, a loop printing a long string), a list of
millions of items (a list doubled in a loop), an integer of millions of digits (``(9 ** 999) **
999``), or runs nested loops for minutes — once when it is saved and again for every message.
So each render of a campaign's templates runs under a :class:`Budget`, and the sandbox
(:class:`LimitedSandbox`) checks it wherever work can pile up:

* loops: every iteration of every ``{% for %}`` counts against :data:`MAX_LOOP_ITERATIONS` and
  is charged the loop body's own text as output (what a body prints literally is known when the
  template is compiled);
* steps: every call (functions, macros, methods), filter and arithmetic operator counts
  against :data:`MAX_STEPS`, so recursion through macros ends too;
* output: everything printed (``{{ … }}``, also inside macros and ``{% set %}`` blocks) counts
  against :data:`MAX_OUTPUT_CHARS` for the subject and both bodies together;
* values: no operator, filter, ``~`` or call may take or make a value larger than
  :data:`MAX_VALUE_SIZE` (characters of text plus items of lists and dicts, through nesting).
  Where the work itself could be large it is estimated *before* it is done: repetition,
  padding widths (``center``, ``ljust``, format specs, ``%``-formatting), ``replace``, ``join``
  with a separator, ``indent``, ``wordwrap``;
* numbers: an integer result beyond :data:`MAX_INT_BITS` bits is refused before it is computed;
* ``range()`` is capped at :data:`MAX_RANGE` items; ``lipsum()`` is not offered;
* time: a wall-clock deadline (:data:`RENDER_SECONDS`) is checked at each of these points.

The counters are what stops a payload; the deadline is the backstop for what they do not
foresee. A refusal is a :class:`LimitExceeded` (a ``SecurityError``) whose message names the
limit. The limits are module constants (a legitimate email is far below each); tests lower them.
"""
from __future__ import annotations

import functools
import re
import string
import time
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Iterator

from jinja2 import nodes
from jinja2.exceptions import SecurityError
from jinja2.runtime import markup_join, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import pass_context
from jinja2.visitor import NodeTransformer

#: Wall-clock seconds one message (subject, HTML and text) may take to render.
RENDER_SECONDS = 2.0
#: Iterations of all ``{% for %}`` loops together, per message.
MAX_LOOP_ITERATIONS = 10_000
#: Calls, filters and arithmetic operators together, per message.
MAX_STEPS = 20_000
#: Characters printed by the three templates together, per message (before HTML escaping).
MAX_OUTPUT_CHARS = 1_000_000
#: Characters of text plus items of lists and dicts (through nesting) in any one value.
MAX_VALUE_SIZE = 200_000
#: Bits of any integer a template computes (1,000 bits is about 300 decimal digits).
MAX_INT_BITS = 4_096
#: Items ``range()`` may produce.
MAX_RANGE = 10_000
#: Characters of a template's source.
MAX_SOURCE_CHARS = 100_000

LOOP_FILTER, CONCAT_FILTER, OUTPUT_FILTER = "shopcrm_loop", "shopcrm_concat", "shopcrm_output"


class LimitExceeded(SecurityError):
    """A template went over one of the limits above."""


@dataclass
class Budget:
    """What one render has spent so far."""

    deadline: float
    loop_iterations: int = 0
    steps: int = 0
    output_chars: int = 0


_budget: ContextVar[Budget | None] = ContextVar("shopcrm_template_budget", default=None)


@contextmanager
def render_budget() -> Iterator[Budget]:
    """A fresh budget for the renders inside the ``with`` block (one message)."""
    budget = Budget(deadline=time.monotonic() + RENDER_SECONDS)
    token = _budget.set(budget)
    try:
        yield budget
    finally:
        _budget.reset(token)


def _spend(steps: int = 0, loop_iterations: int = 0, output_chars: int = 0) -> None:
    budget = _budget.get()
    if budget is None:  # compiling (constant folding) or rendering outside a message: sizes are still checked
        return
    budget.steps += steps
    budget.loop_iterations += loop_iterations
    budget.output_chars += output_chars
    if (budget.steps > MAX_STEPS or budget.loop_iterations > MAX_LOOP_ITERATIONS
            or budget.output_chars > MAX_OUTPUT_CHARS or time.monotonic() > budget.deadline):
        _overspent(budget)


def _overspent(budget: Budget):
    if budget.steps > MAX_STEPS:
        raise LimitExceeded(f"it needs more than {MAX_STEPS} calls, filters and operations per message "
                            "(limit MAX_STEPS)")
    if budget.loop_iterations > MAX_LOOP_ITERATIONS:
        raise LimitExceeded(f"it needs more than {MAX_LOOP_ITERATIONS} loop iterations per message "
                            "(limit MAX_LOOP_ITERATIONS)")
    if budget.output_chars > MAX_OUTPUT_CHARS:
        raise LimitExceeded(f"it prints more than {MAX_OUTPUT_CHARS} characters per message "
                            "(limit MAX_OUTPUT_CHARS)")
    raise LimitExceeded(f"it takes longer than {RENDER_SECONDS:g} s to render one message (limit RENDER_SECONDS)")


# --- sizes ----------------------------------------------------------------------------------------

def size_of(value: Any, limit: int | None = None) -> int:
    """Characters of text plus items of containers, counted through nesting (a shared item counts
    each time, as it would when printed); stops counting once past ``limit``."""
    if isinstance(value, str):
        return len(value)
    limit = MAX_VALUE_SIZE if limit is None else limit
    total, stack = 0, [value]
    while stack and total <= limit:
        item = stack.pop()
        if isinstance(item, (str, bytes)):
            total += len(item)
        elif isinstance(item, (list, tuple, set, frozenset)):
            total += len(item)
            stack.extend(item)
        elif isinstance(item, dict):
            total += len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, range):
            total += len(item)
        else:
            total += 1
    return total


def check_size(value: Any, what: str) -> None:
    if size_of(value) > MAX_VALUE_SIZE:
        raise LimitExceeded(f"{what} would hold more than {MAX_VALUE_SIZE} characters or items "
                            "(limit MAX_VALUE_SIZE)")


def _check_estimate(estimate: int, what: str) -> None:
    if estimate > MAX_VALUE_SIZE:
        raise LimitExceeded(f"{what} would make a text or list of about {estimate} characters or items; "
                            f"the limit is {MAX_VALUE_SIZE} (MAX_VALUE_SIZE)")


def _check_bits(bits: int, what: str) -> None:
    if bits > MAX_INT_BITS:
        raise LimitExceeded(f"{what} would make a number of about {bits} bits; the limit is {MAX_INT_BITS} bits "
                            "(MAX_INT_BITS)")


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: Any, what: str) -> int:
    """``value`` as a width or count, refused when it is absurdly large."""
    if not _whole(value):
        return 0
    _check_estimate(value, what)
    return value


# --- formatting -----------------------------------------------------------------------------------

_PERCENT = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?[a-zA-Z%]")
_SPEC = re.compile(r"(?:.?[<>=^])?[+\- ]?z?#?0?(\d*)[,_]?(?:\.(\d+))?")


def _field_width(text: str | None, what: str) -> int:
    if not text:
        return 0
    if text == "*":
        raise LimitExceeded(f"{what}: a width taken from the arguments (*) is not allowed in email templates")
    if len(text) > 9:
        _check_estimate(10 ** 9, what)
    return _number(int(text), what)


def check_percent_format(template: str, values: Any) -> None:
    """``template % values`` (and the ``format`` filter) within :data:`MAX_VALUE_SIZE`."""
    fields, widest = 0, 0
    for match in _PERCENT.finditer(template):
        fields += 1
        widest = max(widest, _field_width(match.group(1), "%-formatting"),
                     _field_width(match.group(2), "%-formatting"))
    _check_estimate(len(template) + fields * (widest + size_of(values)), "%-formatting")


def check_str_format(template: str, args: tuple, kwargs: dict) -> None:
    """``template.format(...)`` within :data:`MAX_VALUE_SIZE`: widths and precisions in the
    format specs, and every field as large as the largest argument."""
    fields, widest = 0, 0
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError:
        return  # str.format will raise the same error
    for _, field, spec, _ in parsed:
        if field is None:
            continue
        if spec and "{" in spec:
            raise LimitExceeded("format(): a width taken from the arguments ({:{}}) is not allowed in email templates")
        match = _SPEC.match(spec or "")
        fields += 1
        widest = max(widest, _field_width(match.group(1), "format()"), _field_width(match.group(2), "format()"))
    _check_estimate(len(template) + fields * (widest + size_of((args, kwargs))), "format()")


def _replace_estimate(text: str | bytes, old, new, count: Any = -1) -> int:
    if not isinstance(old, type(text)) or not isinstance(new, type(text)):
        return len(text)
    occurrences = len(text) + 1 if not old else text.count(old)
    if _whole(count) and count >= 0:
        occurrences = min(occurrences, count)
    return len(text) + occurrences * max(len(new) - len(old), 0)


# --- str and bytes methods ------------------------------------------------------------------------

def _check_text_method(method: Any, args: tuple, kwargs: dict) -> tuple:
    """Refuse a str/bytes method call whose result would be too large; return the arguments to
    call it with (``join`` gets its items as a list, counted once)."""
    target = getattr(method, "__wrapped__", method)  # the sandbox wraps str.format
    owner, name = getattr(target, "__self__", None), getattr(target, "__name__", "")
    if not isinstance(owner, (str, bytes)):
        return args
    first = args[0] if args else None
    if name in ("center", "ljust", "rjust", "zfill"):
        _number(kwargs.get("width", first), f"{name}()")
    elif name == "expandtabs":
        tabsize = kwargs.get("tabsize", first if args else 8)
        _check_estimate(len(owner) * max(tabsize if _whole(tabsize) else 1, 1), "expandtabs()")
    elif name == "replace" and len(args) >= 2:
        _check_estimate(_replace_estimate(owner, *args[:3]), "replace()")
    elif name == "join" and args:
        items = list(first)
        _check_estimate(size_of(items) + len(owner) * len(items), "join()")
        return (items, *args[1:])
    elif name in ("format", "format_map") and isinstance(owner, str):
        if name == "format_map":
            check_str_format(owner, (), first if isinstance(first, dict) else {})
        else:
            check_str_format(owner, args, kwargs)
    elif name in ("translate", "maketrans"):
        raise LimitExceeded(f"{name}() is not available in email templates")
    return args


# --- filters --------------------------------------------------------------------------------------

def _filter_checks(name: str, value: Any, args: tuple, kwargs: dict) -> tuple[Any, tuple]:
    """Estimates for the built-in filters whose result can be much larger than their input;
    returns the value and arguments to call the filter with."""
    def arg(position: int, keyword: str, default: Any = None) -> Any:
        return args[position] if len(args) > position else kwargs.get(keyword, default)

    text = value if isinstance(value, str) else ""
    if name == "center":
        _number(arg(0, "width", 80), "center")
    elif name == "indent":
        width = arg(0, "width", 4)
        per_line = len(width) if isinstance(width, str) else _number(width, "indent")
        _check_estimate(len(text) + (text.count("\n") + 1) * per_line, "indent")
    elif name == "format":
        check_percent_format(str(value), args or kwargs)
    elif name == "replace":
        _check_estimate(_replace_estimate(str(value), arg(0, "old"), arg(1, "new"), arg(2, "count", -1)), "replace")
    elif name == "wordwrap":
        width = arg(0, "width", 79)
        wrapstring = arg(2, "wrapstring") or "\n"
        lines = len(text) // max(width if _whole(width) else 1, 1) + 1
        _check_estimate(len(text) + lines * len(str(wrapstring)), "wordwrap")
    elif name == "join":
        value = list(value) if not isinstance(value, (str, list, tuple)) else value
        _check_estimate(size_of(value) + len(str(arg(0, "d", ""))) * len(value), "join")
    elif name in ("slice", "batch"):
        count = arg(0, "slices" if name == "slice" else "linecount", 1)
        _number(count, name)
    elif name == "tojson":
        indent = arg(0, "indent")
        per_level = len(indent) if isinstance(indent, str) else (indent if _whole(indent) else 0)
        _check_estimate(size_of(value) * (per_level + 1), "tojson")
    elif name == "sum":
        start = arg(1, "start", 0)
        if not isinstance(start, (int, float)):
            raise LimitExceeded("sum: only numbers can be summed in email templates")
    return value, args


def limited_filter(name: str, func):
    """``func`` (a Jinja filter) with its inputs, its result and the budget checked."""
    leading = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0  # context, eval context or env

    @functools.wraps(func)
    def checked(*args: Any, **kwargs: Any) -> Any:
        _spend(steps=1)
        passed, value, rest = args[:leading], args[leading] if len(args) > leading else None, args[leading + 1:]
        check_size((value, rest, kwargs), f"the input of |{name}")
        value, rest = _filter_checks(name, value, rest, kwargs)
        result = func(*passed, value, *rest, **kwargs)
        check_size(result, f"the result of |{name}")
        return result

    return checked


@pass_context
def _loop(context, iterable: Any, body_chars: int):
    """Each iteration of a ``{% for %}`` loop: counted, and charged what the body prints literally."""
    for item in iterable:
        _spend(loop_iterations=1, output_chars=body_chars)
        yield item


@pass_context
def _concat(context, parts: list) -> str:
    """``a ~ b``, with the result's size known before it is built."""
    _spend(steps=1)
    _check_estimate(sum(size_of(part) for part in parts), "~")
    return markup_join(parts) if context.eval_ctx.autoescape else str_join(parts)


@pass_context
def _output(context, value: Any) -> Any:
    """Every ``{{ … }}``: its size is charged to the budget before it is printed."""
    size = size_of(value)
    if size > MAX_VALUE_SIZE:
        check_size(value, "a printed value")
    _spend(output_chars=size)
    return value


def _bounded_range(*args: int) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise LimitExceeded(f"range() may produce at most {MAX_RANGE} numbers in email templates (limit MAX_RANGE)")
    return numbers


# --- the sandbox ----------------------------------------------------------------------------------

class _Instrument(NodeTransformer):
    """Rewrites a parsed template so that loops, ``~`` and output pass through the budget filters."""

    def __init__(self, environment):
        self.environment = environment

    def _filter(self, expr: nodes.Expr, name: str, *args: nodes.Expr) -> nodes.Filter:
        node = nodes.Filter(expr, name, list(args), [], None, None, lineno=expr.lineno)
        node.set_environment(self.environment)
        return node

    def visit_For(self, node: nodes.For) -> nodes.For:
        self.generic_visit(node)
        body_chars = sum(len(data.data) for data in node.find_all(nodes.TemplateData))
        node.iter = self._filter(node.iter, LOOP_FILTER, nodes.Const(body_chars, lineno=node.lineno))
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Filter:
        self.generic_visit(node)
        return self._filter(nodes.List(node.nodes, lineno=node.lineno), CONCAT_FILTER)

    def visit_Output(self, node: nodes.Output) -> nodes.Output:
        self.generic_visit(node)
        node.nodes = [child if isinstance(child, nodes.TemplateData) else self._filter(child, OUTPUT_FILTER)
                      for child in node.nodes]
        return node


class LimitedSandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox with the budgets of this module."""

    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%", "**"})

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.filters = {name: limited_filter(name, func) for name, func in self.filters.items()}
        self.filters.update({LOOP_FILTER: _loop, CONCAT_FILTER: _concat, OUTPUT_FILTER: _output})
        self.globals["range"] = _bounded_range
        self.globals.pop("lipsum", None)

    def _parse(self, source, name, filename):
        if len(source) > MAX_SOURCE_CHARS:
            raise LimitExceeded(f"the template is longer than {MAX_SOURCE_CHARS} characters (limit MAX_SOURCE_CHARS)")
        return _Instrument(self).visit(super()._parse(source, name, filename))

    def call_binop(self, context, operator: str, left: Any, right: Any) -> Any:
        _spend(steps=1)
        _check_binop(operator, left, right)
        result = super().call_binop(context, operator, left, right)
        check_size(result, f"the result of {operator}")
        return result

    def call(self, context, obj, /, *args: Any, **kwargs: Any) -> Any:
        _spend(steps=1)
        check_size((args, kwargs), "the arguments of a call")
        args = _check_text_method(obj, args, kwargs)
        result = super().call(context, obj, *args, **kwargs)
        check_size(result, "the result of a call")
        return result


def _check_binop(operator: str, left: Any, right: Any) -> None:
    """Estimate an arithmetic operator's result before computing it."""
    if operator == "+" and not (isinstance(left, (int, float)) and isinstance(right, (int, float))):
        _check_estimate(size_of(left) + size_of(right), "+")
    elif operator == "*":
        for sequence, times in ((left, right), (right, left)):
            if isinstance(sequence, (str, bytes, list, tuple)) and _whole(times):
                _check_estimate(size_of(sequence) * max(times, 0), "*")
        if _whole(left) and _whole(right):
            _check_bits(left.bit_length() + right.bit_length(), "*")
    elif operator == "**" and _whole(left) and _whole(right) and right > 0 and abs(left) > 1:
        _check_bits(left.bit_length() * right, "**")
    elif operator == "%" and isinstance(left, str):
        check_percent_format(left, right)
