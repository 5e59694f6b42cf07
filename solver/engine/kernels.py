"""The engine's compiled core: routes as arrays, primitives that keep every objective term exact,
an earliest-start schedule over linked routes, the moves and the annealing loop.

Everything here is numba-compiled (``cache=True``: the first call of a fresh install compiles for
a few seconds and writes the cache next to this file; later processes load it). The arrays are
laid out by :mod:`solver.engine.state`; the names below follow it:

- a *route* is one worker shift: ``route[h, :rlen[h]]`` holds its stops in time order, each an
  *entry* ``2 * visit + shadow`` (a shadow is a coordinator beside the carers, rule 6);
- starts are never searched: :func:`reschedule` derives the earliest schedule of the routes a move
  touched and of every route linked to them through a double-up, a shadow or an ``after`` link,
  and refuses the move if a window, a shift or a link cannot be met (an order that deadlocks two
  routes pushes some start past its window, so it is refused the same way);
- ``terms`` holds the objective's raw quantities in the contract's order (:data:`TERMS` in
  :mod:`solver.engine.state`), then the sick-call re-solve's own two (visits changed against the
  published rota, workers asked to cover), kept exact by every primitive, so a move's delta is
  read off them;
- a re-solve holds each published visit's start as its window's opening (a move may push it
  later, as a priced change), *locks* the visits it may not touch (``lock``: started before
  now, or outside the affected days) and draws moves only from the rest (``mov``); a normal
  solve locks nothing.

A move is applied, rescheduled and then kept or undone: the journal records every primitive and
every start it changed, and :func:`undo_to` replays it backwards.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba.core import types
from numba.core.registry import CPUDispatcher

# Term indices (the contract's weights, in order).
T_UNASSIGNED, T_TRAVEL, T_HOME, T_DISTINCT, T_UNFAMILIAR = 0, 1, 2, 3, 4
T_SHORTFALL, T_LATE, T_MAX_LATE, T_COORD = 5, 6, 7, 8
# The agency's continuity policy (optional weights): the second faces again, at a price in
# travel; faces above the weekly cap; the primary carer's missing visit slots; visit slots taken
# by a carer the client does not know.
T_FACE_TRAVEL, T_OVER_CAP, T_PRIMARY, T_UNKNOWN_SLOT = 9, 10, 11, 12
# The sick-call re-solve's terms (zero in a normal solve): published visits whose crew, shadow or
# start changed (times the change penalty), and the price of each worker asked to cover an orphan.
T_CHANGED, T_COVER = 13, 14
N_TERMS = 15
EPS = 1e-6
NO = -1
BIG = 1 << 60

# Move kinds, in the order of the ``move_weights`` array.
(
    M_INSERT,
    M_RELOCATE,
    M_SWAP,
    M_TWO_OPT,
    M_OR_OPT,
    M_RUIN,
    M_HANDOVER,
    M_COORDINATOR,
    M_CLIENT_SWAP,
    M_INTRA,
    M_FACE,
) = range(11)
N_MOVES = 11


_unliteral: Any = types.unliteral  # numba's own annotations leave it untyped


class _Kernel(CPUDispatcher):
    """A kernel compiled once per argument *type*, never per constant value.

    Numba otherwise types a constant argument (a flag, ``NO``, a number of tries) as its literal
    value and compiles the kernel, with everything it calls linked in, once for each value seen:
    114 compilations of 73 kernels and 80 MB of machine code, where one of each is 58 MB. A
    first install compiled in 382 s against 278 s this way (2026-12-07, both beside another
    job on a 2-core machine).
    """

    def get_call_template(self, args: Any, kws: Any) -> Any:
        flat = tuple(_unliteral(a) for a in args)
        return super().get_call_template(flat, {k: _unliteral(v) for k, v in kws.items()})


def jit(func: Any) -> Any:
    """``numba.njit(cache=True, nogil=True)``, compiled per argument type (:class:`_Kernel`),
    without reference counting.

    Numba counts references to every array a compiled function is handed, and a kernel is
    handed the two namedtuples of :mod:`solver.engine.state`: 106 arrays, each counted up on
    entry and down on every way out, with atomic instructions, in every call that is not
    inlined. That was most of a move's time: an insertion's price on Mankowska D2 took 5.6
    microseconds counted and 0.27 uncounted (2026-12-07). The callers hold every array for
    as long as a kernel runs, so no kernel needs the counting as long as none makes an array:
    what one needs for scratch is a buffer of the state (``buf1``, ``way``, ``cleared``...),
    and an array made here would never be freed.
    """
    options = {"nopython": True, "boundscheck": None, "nogil": True, "_nrt": False}
    kernel = _Kernel(py_func=func, locals={}, targetoptions=options)
    kernel.enable_caching()
    return kernel


Arrays = Any  # the namedtuples of :mod:`solver.engine.state`; numba types them itself


# -- small helpers -------------------------------------------------------------------------------


@jit
def leg(c: Arrays, w: int, a: int, b: int) -> float:
    """Exact minutes for worker ``w`` between places ``a`` and ``b``."""
    return c.travel_x[c.wmode[w], a, b]


@jit
def leg_units(c: Arrays, w: int, a: int, b: int) -> int:
    return c.travel[c.wmode[w], a, b]


@jit
def shortfall_of(c: Arrays, s: Arrays, w: int) -> float:
    if c.contracted[w] <= 0:
        return 0.0
    gap = c.contracted[w] - s.work[w]
    return gap if gap > 0 else 0.0


@jit
def req_short(c: Arrays, s: Arrays, r: int) -> int:
    if c.rq_month_end[r]:
        return c.rq_n[r] - s.rq_seen[r]
    gap = c.rq_required[r] - s.rq_seen[r]
    return gap if gap > 0 else 0


@jit
def staffed(c: Arrays, s: Arrays, v: int) -> bool:
    return s.ncrew[v] == c.req[v]


@jit
def has_worker(c: Arrays, s: Arrays, v: int, w: int) -> bool:
    for i in range(s.ncrew[v]):
        if c.shift_w[s.crew[v, i]] == w:
            return True
    return s.shadow[v] >= 0 and c.shift_w[s.shadow[v]] == w


@jit
def clashes(c: Arrays, s: Arrays, v: int, w: int) -> bool:
    """Whether ``w`` is counted on a visit a ``distinct_workers`` link keeps ``v`` apart from."""
    for q in range(c.link_ptr[v], c.link_ptr[v + 1]):
        if c.link_apart[q]:
            u = c.link_to[q]
            for i in range(s.ncrew[u]):
                if c.shift_w[s.crew[u, i]] == w:
                    return True
    return False


@jit
def find_pos(s: Arrays, h: int, e: int) -> int:
    for i in range(s.rlen[h]):
        if s.route[h, i] == e:
            return i
    return NO


@jit
def mark_dirty(s: Arrays, h: int) -> None:
    for i in range(s.ndirty[0]):
        if s.dirty[i] == h:
            return
    if s.ndirty[0] < s.dirty.shape[0]:
        s.dirty[s.ndirty[0]] = h
        s.ndirty[0] += 1
    else:
        s.overflow[0] = 1


# -- primitives ----------------------------------------------------------------------------------


@jit
def _count_client(c: Arrays, s: Arrays, v: int, w: int, sign: int, counted: bool) -> None:
    """Faces, unfamiliar faces, the policy's counters and the coordinator rule's counters for
    ``w`` at ``v``'s client (``counted``: on the crew, not shadowing)."""
    cl = c.vclient[v]
    before = s.cw[cl, w]
    s.cw[cl, w] = before + sign
    if sign > 0 and before == 0:
        if s.faces[cl] >= 1:
            s.terms[T_DISTINCT] += 1
            s.terms[T_FACE_TRAVEL] += 1
        s.faces[cl] += 1
        if not c.familiar[cl, w]:
            s.terms[T_UNFAMILIAR] += 1
    elif sign < 0 and before == 1:
        s.faces[cl] -= 1
        if s.faces[cl] >= 1:
            s.terms[T_DISTINCT] -= 1
            s.terms[T_FACE_TRAVEL] -= 1
        if not c.familiar[cl, w]:
            s.terms[T_UNFAMILIAR] -= 1
    wk = c.vday[v] // 7
    n = s.cwk[cl, wk, w]
    s.cwk[cl, wk, w] = n + sign
    if (sign > 0 and n == 0) or (sign < 0 and n == 1):
        old = max(0, s.faces_wk[cl, wk] - c.faces_cap) if c.faces_cap >= 0 else 0
        s.faces_wk[cl, wk] += sign
        new = max(0, s.faces_wk[cl, wk] - c.faces_cap) if c.faces_cap >= 0 else 0
        s.terms[T_OVER_CAP] += new - old
    if counted:
        if not c.familiar[cl, w]:
            s.terms[T_UNKNOWN_SLOT] += sign
        s.ccount[cl, w] += sign
        s.ctotal[cl] += sign
        top = 0
        for x in range(s.ccount.shape[1]):
            if s.ccount[cl, x] > top:
                top = s.ccount[cl, x]
        gap = c.primary_share * s.ctotal[cl] - top
        short = gap if gap > 0 else 0.0
        s.terms[T_PRIMARY] += short - s.cshort[cl]
        s.cshort[cl] = short
    if c.is_coord[w]:
        r = c.rq_of[w, c.vday[v]]
        if r >= 0 and c.in_o[r, cl]:
            old = req_short(c, s, r)
            n = s.rq_cnt[r, cl]
            s.rq_cnt[r, cl] = n + sign
            if sign > 0 and n == 0:
                s.rq_seen[r] += 1
            elif sign < 0 and n == 1:
                s.rq_seen[r] -= 1
            s.terms[T_COORD] += req_short(c, s, r) - old


@jit
def _refresh_change(c: Arrays, s: Arrays, v: int) -> None:
    """Whether published visit ``v`` is changed (``chg``, and the count in ``terms``): it is
    unchanged while exactly its published crew and shadow are on it at its published start."""
    if c.anc_n[v] == 0:
        return
    now = s.match[v] != c.anc_n[v] or s.extra[v] > 0 or s.start[v] != c.anc_s[v]
    if int(now) != s.chg[v]:
        s.terms[T_CHANGED] += int(now) - s.chg[v]
        s.chg[v] = int(now)


@jit
def _count_change(c: Arrays, s: Arrays, v: int, w: int, shadow: bool, sign: int) -> None:
    """The re-solve's terms as ``w`` joins (+1) or leaves (-1) ``v``: the published visit's
    entries present (its crew and shadow) and others, and a worker counted on an orphan not
    theirs before is asked to cover."""
    theirs = c.anc_w[v, 0] == w or c.anc_w[v, 1] == w
    if c.anc_n[v] > 0:
        if (c.anc_k[v] == w) if shadow else theirs:
            s.match[v] += sign
        else:
            s.extra[v] += sign
        _refresh_change(c, s, v)
    if c.orphan[v] and not shadow and not theirs:
        n = s.asked[w]
        s.asked[w] = n + sign
        if sign > 0 and n == 0:
            s.terms[T_COVER] += c.cover_price[w]
        elif sign < 0 and n == 1:
            s.terms[T_COVER] -= c.cover_price[w]


@jit
def _set_late(c: Arrays, s: Arrays, v: int, value: float, log: bool) -> None:
    if s.late[v] == value:
        return
    if log:
        k = s.nslog[0]
        if k < s.slog.shape[0]:
            s.slog[k, 0] = v
            s.slog[k, 1] = s.start[v]
            s.slog_late[k] = s.late[v]
            s.nslog[0] = k + 1
        else:
            s.overflow[0] = 1
    s.terms[T_LATE] += value - s.late[v]
    s.late[v] = value
    s.late_dirty[0] = 1


@jit
def _set_start(c: Arrays, s: Arrays, v: int, value: int, late: float) -> None:
    k = s.nslog[0]
    if k < s.slog.shape[0]:
        s.slog[k, 0] = v
        s.slog[k, 1] = s.start[v]
        s.slog_late[k] = s.late[v]
        s.nslog[0] = k + 1
    else:
        s.overflow[0] = 1
    s.start[v] = value
    s.terms[T_LATE] += late - s.late[v]
    s.late[v] = late
    s.late_dirty[0] = 1
    _refresh_change(c, s, v)


@jit
def _log_op(s: Arrays, op: int, h: int, pos: int, e: int) -> None:
    k = s.nops[0]
    if k < s.ops.shape[0]:
        s.ops[k, 0] = op
        s.ops[k, 1] = h
        s.ops[k, 2] = pos
        s.ops[k, 3] = e
        s.nops[0] = k + 1
    else:
        s.overflow[0] = 1


@jit
def _unstaff_list(s: Arrays, v: int, add: bool) -> None:
    if add:
        s.unst_pos[v] = s.n_unst[0]
        s.unst[s.n_unst[0]] = v
        s.n_unst[0] += 1
    else:
        i = s.unst_pos[v]
        last = s.unst[s.n_unst[0] - 1]
        s.unst[i] = last
        s.unst_pos[last] = i
        s.n_unst[0] -= 1
        s.unst_pos[v] = NO


@jit
def _legs(c: Arrays, s: Arrays, h: int, pos: int, v: int, sign: float) -> None:
    """Travel, home travel and working minutes as ``v`` enters (+1) or leaves (-1) at ``pos``.

    Called with ``v`` not in the route (entering) or with it already taken out (leaving), so
    ``pos`` sits between the same two neighbours either way.
    """
    w = c.shift_w[h]
    wp = c.wplace[w]
    pv = c.vplace[v]
    n = s.rlen[h]
    prev = s.route[h, pos - 1] >> 1 if pos > 0 else NO
    nxt = s.route[h, pos] >> 1 if pos < n else NO
    dv = c.vday[v]
    if prev == NO and nxt == NO:
        s.terms[T_HOME] += sign * (leg(c, w, wp, pv) + leg(c, w, pv, wp))
    elif prev == NO:
        pn = c.vplace[nxt]
        s.terms[T_HOME] += sign * (leg(c, w, wp, pv) - leg(c, w, wp, pn))
        t = leg(c, w, pv, pn)
        s.terms[T_TRAVEL] += sign * t
        s.work[w] += sign * t
        s.work_day[w, c.vday[nxt]] += sign * t
    elif nxt == NO:
        pp = c.vplace[prev]
        s.terms[T_HOME] += sign * (leg(c, w, pv, wp) - leg(c, w, pp, wp))
        t = leg(c, w, pp, pv)
        s.terms[T_TRAVEL] += sign * t
        s.work[w] += sign * t
        s.work_day[w, dv] += sign * t
    else:
        pp = c.vplace[prev]
        pn = c.vplace[nxt]
        a = leg(c, w, pp, pv)
        b = leg(c, w, pv, pn)
        old = leg(c, w, pp, pn)
        s.terms[T_TRAVEL] += sign * (a + b - old)
        s.work[w] += sign * (a + b - old)
        s.work_day[w, dv] += sign * a
        s.work_day[w, c.vday[nxt]] += sign * (b - old)
    s.work[w] += sign * c.dur_min[v]
    s.work_day[w, dv] += sign * c.dur_min[v]


@jit
def insert_entry(c: Arrays, s: Arrays, h: int, pos: int, e: int, log: bool) -> None:
    """Put entry ``e`` at ``pos`` of route ``h``; every term but lateness stays exact."""
    v = e >> 1
    w = c.shift_w[h]
    old_short = shortfall_of(c, s, w)
    _legs(c, s, h, pos, v, 1.0)
    n = s.rlen[h]
    for i in range(n, pos, -1):
        s.route[h, i] = s.route[h, i - 1]
    s.route[h, pos] = e
    s.rlen[h] = n + 1
    s.terms[T_SHORTFALL] += shortfall_of(c, s, w) - old_short
    if e & 1:
        s.shadow[v] = h
    else:
        s.crew[v, s.ncrew[v]] = h
        s.ncrew[v] += 1
        if s.ncrew[v] == c.req[v]:
            s.terms[T_UNASSIGNED] -= 1
            _unstaff_list(s, v, False)
    _count_client(c, s, v, w, 1, (e & 1) == 0)
    _count_change(c, s, v, w, (e & 1) == 1, 1)
    mark_dirty(s, h)
    if log:
        _log_op(s, 0, h, pos, e)


@jit
def remove_entry(c: Arrays, s: Arrays, h: int, pos: int, log: bool) -> int:
    """Take the entry at ``pos`` out of route ``h``; returns it."""
    e = s.route[h, pos]
    v = e >> 1
    w = c.shift_w[h]
    old_short = shortfall_of(c, s, w)
    n = s.rlen[h]
    for i in range(pos, n - 1):
        s.route[h, i] = s.route[h, i + 1]
    s.rlen[h] = n - 1
    _legs(c, s, h, pos, v, -1.0)
    s.terms[T_SHORTFALL] += shortfall_of(c, s, w) - old_short
    if e & 1:
        s.shadow[v] = NO
    else:
        if s.ncrew[v] == c.req[v]:
            s.terms[T_UNASSIGNED] += 1
            _unstaff_list(s, v, True)
            _set_late(c, s, v, 0.0, log)
        k = NO
        for i in range(s.ncrew[v]):
            if s.crew[v, i] == h:
                k = i
        s.crew[v, k] = s.crew[v, s.ncrew[v] - 1]
        s.crew[v, s.ncrew[v] - 1] = NO
        s.ncrew[v] -= 1
    _count_client(c, s, v, w, -1, (e & 1) == 0)
    _count_change(c, s, v, w, (e & 1) == 1, -1)
    mark_dirty(s, h)
    if log:
        _log_op(s, 1, h, pos, e)
    return e


# -- the schedule --------------------------------------------------------------------------------


@jit
def _add_route(s: Arrays, h: int, tag: int) -> None:
    if h >= 0 and s.rstamp[h] != tag:
        s.rstamp[h] = tag
        s.cl_routes[s.ncl[0]] = h
        s.ncl[0] += 1


@jit
def _cluster(c: Arrays, s: Arrays) -> int:
    """Routes linked to the dirty ones (double-ups, shadows, ``after`` links), and their visits."""
    s.tag[0] += 1
    tag = s.tag[0]
    s.ncl[0] = 0
    s.ncv[0] = 0
    for i in range(s.ndirty[0]):
        _add_route(s, s.dirty[i], tag)
    k = 0
    while k < s.ncl[0]:
        h = s.cl_routes[k]
        k += 1
        for i in range(s.rlen[h]):
            v = s.route[h, i] >> 1
            if s.vstamp[v] == tag:
                continue
            s.vstamp[v] = tag
            s.cl_visits[s.ncv[0]] = v
            s.ncv[0] += 1
            for j in range(s.ncrew[v]):
                _add_route(s, s.crew[v, j], tag)
            _add_route(s, s.shadow[v], tag)
            for q in range(c.link_ptr[v], c.link_ptr[v + 1]):
                u = c.link_to[q]
                if staffed(c, s, u):
                    for j in range(s.ncrew[u]):
                        _add_route(s, s.crew[u, j], tag)
                    _add_route(s, s.shadow[u], tag)
    return tag


@jit
def reschedule(c: Arrays, s: Arrays) -> bool:
    """The earliest schedule of the dirty routes' cluster; False (nothing written) if none fits."""
    if s.overflow[0]:
        return False
    _cluster(c, s)
    nv = s.ncv[0]
    # Routes that share no visit and no link are independent, and one pass in route order
    # gives each its earliest schedule: the pass that would only confirm it is skipped.
    linked = False
    for i in range(nv):
        v = s.cl_visits[i]
        if s.ncrew[v] != c.req[v]:
            return False  # a crew left half-made by a move
        s.snew[v] = c.earliest[v]
        if c.req[v] > 1 or s.shadow[v] != NO or c.link_ptr[v + 1] > c.link_ptr[v]:
            linked = True
    for _ in range(nv + 3):
        changed = False
        for k in range(s.ncl[0]):
            h = s.cl_routes[k]
            w = c.shift_w[h]
            prev = NO
            for i in range(s.rlen[h]):
                v = s.route[h, i] >> 1
                lb = c.shift_start[h]
                if prev != NO:
                    t = s.snew[prev] + c.dur[prev] + leg_units(c, w, c.vplace[prev], c.vplace[v])
                    if t > lb:
                        lb = t
                if lb > s.snew[v]:
                    if lb > c.last[v] or lb + c.dur[v] > c.shift_end[h]:
                        return False
                    s.snew[v] = lb
                    changed = True
                prev = v
        if not linked:
            break
        for i in range(nv):
            v = s.cl_visits[i]
            u = c.after_v[v]
            if u == NO or not staffed(c, s, u):
                continue
            lo = s.snew[u] + c.after_min[v]
            if s.snew[v] < lo:
                if lo > c.last[v]:
                    return False
                s.snew[v] = lo
                changed = True
            lo = s.snew[v] - c.after_max[v]
            if s.snew[u] < lo:
                if lo > c.last[u]:
                    return False
                s.snew[u] = lo
                changed = True
        if not changed:
            break
    else:
        return False
    # A start pushed by a later route in the same pass is checked against its own shift here.
    for k in range(s.ncl[0]):
        h = s.cl_routes[k]
        for i in range(s.rlen[h]):
            v = s.route[h, i] >> 1
            if s.snew[v] + c.dur[v] > c.shift_end[h] or s.snew[v] < c.shift_start[h]:
                return False
    if s.nslog[0] + nv > s.slog.shape[0]:
        return False  # no room to journal the starts: refuse rather than lose the way back
    for i in range(nv):
        v = s.cl_visits[i]
        gap = s.snew[v] - c.latest[v]
        late = gap / c.unit if gap > 0 else 0.0
        if s.snew[v] != s.start[v] or late != s.late[v]:
            _set_start(c, s, v, s.snew[v], late)
    return True


@jit
def caps_ok(c: Arrays, s: Arrays) -> bool:
    for i in range(s.ndirty[0]):
        w = c.shift_w[s.dirty[i]]
        if c.max_week[w] >= 0 and s.work[w] > c.max_week[w] + EPS:
            return False
        if c.max_day[w] >= 0:
            for d in range(s.work_day.shape[1]):
                if s.work_day[w, d] > c.max_day[w] + EPS:
                    return False
    return True


@jit
def apart_ok(c: Arrays, s: Arrays) -> bool:
    """No ``distinct_workers`` link with a worker on both crews, over the cluster the last
    :func:`reschedule` gathered: every visit a move gave a worker is on a dirty route, so in it."""
    for i in range(s.ncv[0]):
        v = s.cl_visits[i]
        for j in range(s.ncrew[v]):
            if clashes(c, s, v, c.shift_w[s.crew[v, j]]):
                return False
    return True


@jit
def refresh_max_late(c: Arrays, s: Arrays) -> None:
    if c.weights[T_MAX_LATE] > 0 and s.late_dirty[0]:
        top = 0.0
        for v in range(s.late.shape[0]):
            if s.late[v] > top:
                top = s.late[v]
        s.terms[T_MAX_LATE] = top
    s.late_dirty[0] = 0


@jit
def objective(c: Arrays, s: Arrays) -> float:
    total = 0.0
    for i in range(N_TERMS):
        total += c.weights[i] * s.terms[i]
    return total


@jit
def _copy_into(dst: Any, src: Any) -> None:
    """``dst[...] = src`` for arrays of one shape (numba's own needs the reference counting)."""
    a = dst.reshape(-1)
    b = src.reshape(-1)
    for i in range(a.shape[0]):
        a[i] = b[i]


# -- transactions --------------------------------------------------------------------------------


@jit
def begin(s: Arrays) -> None:
    s.nops[0] = 0
    s.nslog[0] = 0
    s.ndirty[0] = 0
    s.overflow[0] = 0
    _copy_into(s.saved_terms, s.terms)


@jit
def undo_to(c: Arrays, s: Arrays, nops: int, nslog: int) -> None:
    """Replay the journal backwards to the marks ``nops`` and ``nslog``.

    Routes first, then starts: taking a visit back out of a route zeroes its lateness, and the
    start journal then puts back the values it had before the move.
    """
    for k in range(s.nops[0] - 1, nops - 1, -1):
        if s.ops[k, 0] == 0:
            remove_entry(c, s, s.ops[k, 1], s.ops[k, 2], False)
        else:
            insert_entry(c, s, s.ops[k, 1], s.ops[k, 2], s.ops[k, 3], False)
    s.nops[0] = nops
    for k in range(s.nslog[0] - 1, nslog - 1, -1):
        v = s.slog[k, 0]
        s.start[v] = s.slog[k, 1]
        s.terms[T_LATE] += s.slog_late[k] - s.late[v]
        s.late[v] = s.slog_late[k]
        _refresh_change(c, s, v)
    s.nslog[0] = nslog
    s.late_dirty[0] = 1


@jit
def rollback(c: Arrays, s: Arrays) -> None:
    undo_to(c, s, 0, 0)
    _copy_into(s.terms, s.saved_terms)
    s.late_dirty[0] = 0


@jit
def _mark(s: Arrays) -> tuple[int, int, int]:
    """Where the journal and the list of dirty routes stand, for :func:`_restore`."""
    return s.nops[0], s.nslog[0], s.ndirty[0]


@jit
def _restore(c: Arrays, s: Arrays, mark: tuple[int, int, int]) -> None:
    """Undo every change since ``mark`` (:func:`_mark`), the list of dirty routes with it."""
    undo_to(c, s, mark[0], mark[1])
    s.ndirty[0] = mark[2]


@jit
def settle(c: Arrays, s: Arrays) -> bool:
    """Reschedule and check caps after a move's primitives; refresh the largest lateness.

    A re-solve's change cap refuses a move that takes the changed visits above it (one that
    starts above it, because a published shadow can no longer be kept, may still lower it)."""
    if not reschedule(c, s) or not caps_ok(c, s) or not apart_ok(c, s):
        return False
    changed = s.terms[T_CHANGED]
    if changed > c.max_changes + EPS and changed > s.saved_terms[T_CHANGED] + EPS:
        return False
    refresh_max_late(c, s)
    return True


@jit
def fill_routes(c: Arrays, s: Arrays, route: Any, rlen: Any) -> bool:
    """Put ``route[h, :rlen[h]]`` into the empty state ``s`` and schedule every route, a batch
    of dirty routes at a time; False if they do not make a feasible rota."""
    begin(s)
    for h in range(rlen.shape[0]):
        for pos in range(rlen[h]):
            insert_entry(c, s, h, pos, route[h, pos], False)
    s.ndirty[0] = 0
    s.overflow[0] = 0
    ok = True
    for h in range(rlen.shape[0]):
        if rlen[h] == 0:
            continue
        s.dirty[s.ndirty[0]] = h
        s.ndirty[0] += 1
        if s.ndirty[0] == s.dirty.shape[0]:
            s.nslog[0] = 0
            ok = ok and settle(c, s)
            s.ndirty[0] = 0
    s.nslog[0] = 0
    return ok and settle(c, s)


# -- insertion -----------------------------------------------------------------------------------


@jit
def may_take(c: Arrays, s: Arrays, v: int, h: int) -> bool:
    """Whether shift ``h``'s worker may be counted on ``v`` now (rule 3, not already on it, not
    on a visit a ``distinct_workers`` link keeps apart from it)."""
    w = c.shift_w[h]
    return c.can_h[v, w] == h and not has_worker(c, s, v, w) and not clashes(c, s, v, w)


@jit
def _push(c: Arrays, s: Arrays, h: int, pos: int, arrive: int) -> float:
    """Minutes of lateness added along route ``h`` from ``pos`` on when its stop there can only
    start at ``arrive``; -1 if a stop would be pushed past its window or the shift.

    Each stop absorbs the push with its waiting time. Starts of linked routes are not followed
    (the exact schedule settles them), so this prices and filters, it does not decide.
    """
    w = c.shift_w[h]
    added = 0.0
    for i in range(pos, s.rlen[h]):
        x = s.route[h, i] >> 1
        if arrive <= s.start[x]:
            break
        if arrive > c.last[x] or arrive + c.dur[x] > c.shift_end[h]:
            return -1.0
        before = s.start[x] - c.latest[x]
        after = arrive - c.latest[x]
        added += (max(after, 0) - max(before, 0)) / c.unit
        if i + 1 < s.rlen[h]:
            y = s.route[h, i + 1] >> 1
            arrive = arrive + c.dur[x] + leg_units(c, w, c.vplace[x], c.vplace[y])
    return added


@jit
def insertion_cost(c: Arrays, s: Arrays, v: int, h: int, counted: bool) -> tuple[float, int]:
    """The cheapest position for ``v`` in ``h`` that passes the time filter, and its cost.

    The filter is necessary, not sufficient (starts of linked routes may still move): arrive
    no later than the window and the shift allow, and leave the next stop its own window.
    The cost prices travel and the faces the insertion adds at today's weights.
    """
    w = c.shift_w[h]
    if counted and clashes(c, s, v, w):
        return np.inf, NO
    wp = c.wplace[w]
    pv = c.vplace[v]
    n = s.rlen[h]
    best = np.inf
    best_pos = NO
    hw = c.weights[T_HOME]
    tw = c.weights[T_TRAVEL]
    for pos in range(n + 1):
        prev = s.route[h, pos - 1] >> 1 if pos > 0 else NO
        nxt = s.route[h, pos] >> 1 if pos < n else NO
        if prev == v or nxt == v:
            continue
        a = max(c.earliest[v], c.shift_start[h])
        if prev != NO:
            t = s.start[prev] + c.dur[prev] + leg_units(c, w, c.vplace[prev], pv)
            a = max(a, t)
        if a > c.last[v] or a + c.dur[v] > c.shift_end[h]:
            if prev != NO and s.start[prev] > c.last[v]:
                break  # later positions only start later
            continue
        pushed = 0.0
        if nxt != NO:
            arr = a + c.dur[v] + leg_units(c, w, pv, c.vplace[nxt])
            if arr > c.last[nxt] or arr + c.dur[nxt] > c.shift_end[h]:
                continue
            pushed = _push(c, s, h, pos, arr)
            if pushed < 0:
                continue
        if prev == NO and nxt == NO:
            cost = hw * (leg(c, w, wp, pv) + leg(c, w, pv, wp))
        elif prev == NO:
            pn = c.vplace[nxt]
            cost = hw * (leg(c, w, wp, pv) - leg(c, w, wp, pn)) + tw * leg(c, w, pv, pn)
        elif nxt == NO:
            pp = c.vplace[prev]
            cost = hw * (leg(c, w, pv, wp) - leg(c, w, pp, wp)) + tw * leg(c, w, pp, pv)
        else:
            pp = c.vplace[prev]
            pn = c.vplace[nxt]
            cost = tw * (leg(c, w, pp, pv) + leg(c, w, pv, pn) - leg(c, w, pp, pn))
        if a > c.latest[v]:
            cost += c.weights[T_LATE] * (a - c.latest[v]) / c.unit
        cost += c.weights[T_LATE] * pushed
        if cost < best:
            best = cost
            best_pos = pos
    if best_pos == NO:
        return np.inf, NO
    cl = c.vclient[v]
    if s.cw[cl, w] == 0:
        if s.faces[cl] >= 1:
            best += c.weights[T_DISTINCT]
        if not c.familiar[cl, w]:
            best += c.weights[T_UNFAMILIAR]
    if counted and not c.familiar[cl, w]:
        best += c.weights[T_UNKNOWN_SLOT]
    if counted and c.team_bonus[cl, w] > 0:
        # The care team's pull fades as the annealing cools: a guide, never a constraint.
        best -= c.team_bonus[cl, w] * s.bonus_scale[0]
    return best, best_pos


@jit
def insert_visit(c: Arrays, s: Arrays, v: int, noise: float, tries: int) -> bool:
    """Staff unstaffed ``v`` at its cheapest feasible places (pinned workers first).

    Candidates are ranked by insertion cost (with ``noise`` for diversity); up to ``tries``
    crews are tried, each checked by the exact schedule. Leaves everything as it was on failure.
    """
    need = c.req[v] - s.ncrew[v]
    if need <= 0 or c.lock[v]:
        return False
    mark = _mark(s)
    for attempt in range(tries):
        ok = True
        for _slot in range(need):
            best = np.inf
            bh = NO
            bp = NO
            pinned_left = False
            for i in range(2):
                p = c.pin[v, i]
                if p >= 0 and not has_worker(c, s, v, p):
                    pinned_left = True
                    h = c.can_h[v, p]
                    if h >= 0:
                        cost, pos = insertion_cost(c, s, v, h, True)
                        if pos != NO and cost < best:
                            best, bh, bp = cost, h, pos
            if not pinned_left:
                for q in range(c.cand_ptr[v], c.cand_ptr[v + 1]):
                    h = c.cand_h[q]
                    if not may_take(c, s, v, h):
                        continue
                    cost, pos = insertion_cost(c, s, v, h, True)
                    if pos == NO:
                        continue
                    if noise > 0:
                        cost += noise * np.random.random()
                    # Later attempts skip the crews that failed before.
                    if attempt > 0 and s.tried[h] == v:
                        continue
                    if cost < best:
                        best, bh, bp = cost, h, pos
            if bh == NO:
                ok = False
                break
            s.tried[bh] = v
            insert_entry(c, s, bh, bp, 2 * v, True)
        if ok and reschedule(c, s):
            return True
        _restore(c, s, mark)
        if not ok:
            break
    return False


@jit
def remove_visit(c: Arrays, s: Arrays, v: int) -> bool:
    """Unstaff ``v`` (and its shadow); False if a pinned worker would be taken off."""
    if s.shadow[v] >= 0:
        h = s.shadow[v]
        remove_entry(c, s, h, find_pos(s, h, 2 * v + 1), True)
    while s.ncrew[v] > 0:
        h = s.crew[v, 0]
        remove_entry(c, s, h, find_pos(s, h, 2 * v), True)
    return True


@jit
def drop_orphan_shadows(c: Arrays, s: Arrays, v: int) -> None:
    if s.shadow[v] >= 0 and s.ncrew[v] < c.req[v]:
        h = s.shadow[v]
        remove_entry(c, s, h, find_pos(s, h, 2 * v + 1), True)


@jit
def pinned_member(c: Arrays, v: int, w: int) -> bool:
    """Whether ``w`` may not be taken off ``v``: pinned there, or ``v`` is locked."""
    return c.lock[v] or c.pin[v, 0] == w or c.pin[v, 1] == w


# -- moves ---------------------------------------------------------------------------------------


@jit
def random_staffed(c: Arrays, s: Arrays) -> int:
    """A staffed visit the moves may touch (every visit, in a normal solve)."""
    nm = c.mov.shape[0]
    if nm == 0:
        return NO
    for _ in range(20):
        v = c.mov[np.random.randint(nm)]
        if s.ncrew[v] == c.req[v] and c.req[v] > 0:
            return v
    return NO


# How many visits an insertion may push out in a row, each taking the place of the one before
# (an ejection chain): the first staffs the unstaffed visit, the last pushed out stays unstaffed
# if it fits nowhere, and the objective judges the whole chain.
CHAIN = 3


@jit
def _in_way(c: Arrays, u: int, v: int) -> bool:
    """Whether a stop at ``u`` may stand in the way of ``v``: it may start up to two hours
    before ``v``'s window opens or an hour after it closes."""
    return c.last[u] >= c.earliest[v] - 120 and c.earliest[u] <= c.last[v] + 60


@jit
def _held(c: Arrays, h: int, e: int) -> bool:
    """Whether entry ``e`` of route ``h`` may not be taken off: a locked visit's, or a pinned
    worker's place on their visit."""
    u = e >> 1
    return c.lock[u] or (e & 1 == 0 and pinned_member(c, u, c.shift_w[h]))


@jit
def _displace(c: Arrays, s: Arrays, v: int, a: int, b: int) -> int:
    """Staff unstaffed ``v`` by taking a stop in its way off one candidate's route; the visit
    taken off (now unstaffed, or only its shadow gone), or NO if that fails. Visits ``a`` and
    ``b`` (earlier links of the chain) are never taken off."""
    q = c.cand_ptr[v] + np.random.randint(c.cand_ptr[v + 1] - c.cand_ptr[v])
    h = c.cand_h[q]
    if s.rlen[h] == 0:
        return NO
    best = NO
    for i in range(s.rlen[h]):
        u = s.route[h, i] >> 1
        if _in_way(c, u, v) and u != a and u != b and (best == NO or np.random.random() < 0.5):
            best = i
    if best == NO:
        return NO
    e = s.route[h, best]
    if _held(c, h, e) or not _take_off(c, s, h, e) or not insert_visit(c, s, v, 1.0, 2):
        return NO
    return e >> 1


@jit
def mv_insert(c: Arrays, s: Arrays) -> bool:
    if s.n_unst[0] == 0:
        return False
    v = s.unst[np.random.randint(s.n_unst[0])]
    if c.cand_ptr[v + 1] - c.cand_ptr[v] < c.req[v] or c.lock[v]:
        return False
    if insert_visit(c, s, v, 2.0, 2):
        return True
    # Make room: take out a visit in the way on one candidate's route, staff v there, then
    # place the displaced visit elsewhere, making room for it in turn down the chain.
    x = v
    prev = NO
    for _ in range(CHAIN):
        u = _displace(c, s, x, prev, v)
        if u == NO:
            return False
        if s.ncrew[u] >= c.req[u] or insert_visit(c, s, u, 1.0, 2):
            return True
        prev = x
        x = u
    # The last displaced visit stays unstaffed; the objective judges the trade.
    return True


# -- the re-solve's repair of orphans -------------------------------------------------------------


# The most pairs of stops the repair takes off for one double-up: the pairs grow with the
# square of the stops in its way, about 1,100 on a medium agency's busy morning.
REPAIR_PAIRS = 300


@jit
def _in_the_way(c: Arrays, s: Arrays, v: int, a: int, b: int, level: int) -> int:
    """The stops that may be taken off a candidate's route to make room for ``v``, as rows of
    (shift, entry) in ``s.way[level]`` (a level for each depth of the making room, as one
    calls the other); never ``v``, ``a`` or ``b``, a locked visit or a pinned worker's. How
    many there are."""
    out = s.way[level]
    n = 0
    for q in range(c.cand_ptr[v], c.cand_ptr[v + 1]):
        h = c.cand_h[q]
        for i in range(s.rlen[h]):
            e = s.route[h, i]
            u = e >> 1
            if u in (v, a, b) or not _in_way(c, u, v):
                continue
            if _held(c, h, e):
                continue
            out[n, 0] = h
            out[n, 1] = e
            n += 1
    return n


@jit
def _take_off(c: Arrays, s: Arrays, h: int, e: int) -> bool:
    """Take entry ``e`` off route ``h`` (a shadow alone, or the whole visit) and reschedule."""
    if e & 1:
        remove_entry(c, s, h, find_pos(s, h, e), True)
    else:
        remove_visit(c, s, e >> 1)
    return reschedule(c, s)


@jit
def _room_once(c: Arrays, s: Arrays, v: int, a: int, b: int) -> bool:
    """Staff ``v``: where it fits, or in the place of one stop in its way (not ``a`` or
    ``b``), which then goes where it fits. Leaves the state as it was on failure."""
    if insert_visit(c, s, v, 0.0, 4):
        return True
    mark = _mark(s)
    way = s.way[1]
    for r in range(_in_the_way(c, s, v, a, b, 1)):
        u = way[r, 1] >> 1
        if (
            _take_off(c, s, way[r, 0], way[r, 1])
            and insert_visit(c, s, v, 0.0, 4)
            and (s.ncrew[u] == c.req[u] or insert_visit(c, s, u, 0.0, 4))
        ):
            return True
        _restore(c, s, mark)
    return False


@jit
def _room_twice(c: Arrays, s: Arrays, v: int) -> bool:
    """Staff ``v`` as :func:`_room_once` does, the stop taken off making room for itself in
    turn; a double-up may also take one stop off each of two routes."""
    if insert_visit(c, s, v, 0.0, 4):
        return True
    mark = _mark(s)
    way = s.way[0]
    n = _in_the_way(c, s, v, NO, NO, 0)
    # Only a stop whose going leaves some route a place for v (its own, or a double-up
    # partner's) is worth more: checking that first saves most of the work, a double-up's pairs
    # above all.
    opens = s.opens
    for r in range(n):
        opens[r] = False
        if _take_off(c, s, way[r, 0], way[r, 1]):
            for q in range(c.cand_ptr[v], c.cand_ptr[v + 1]):
                h = c.cand_h[q]
                if may_take(c, s, v, h) and insertion_cost(c, s, v, h, True)[1] != NO:
                    opens[r] = True
                    break
        _restore(c, s, mark)
    for r in range(n):
        if not opens[r]:
            continue
        u = way[r, 1] >> 1
        if (
            _take_off(c, s, way[r, 0], way[r, 1])
            and insert_visit(c, s, v, 0.0, 4)
            and (s.ncrew[u] == c.req[u] or _room_once(c, s, u, v, NO))
        ):
            return True
        _restore(c, s, mark)
    if c.req[v] < 2:
        return False
    pairs = 0
    for r in range(n):
        if not opens[r]:
            continue
        for t in range(r + 1, n):
            if not opens[t] or pairs == REPAIR_PAIRS:
                continue
            pairs += 1
            u = way[r, 1] >> 1
            x = way[t, 1] >> 1
            if way[r, 0] == way[t, 0] or u == x:
                continue
            if (
                _take_off(c, s, way[r, 0], way[r, 1])
                and _take_off(c, s, way[t, 0], way[t, 1])
                and insert_visit(c, s, v, 0.0, 4)
                and (s.ncrew[u] == c.req[u] or _room_once(c, s, u, v, x))
                and (s.ncrew[x] == c.req[x] or _room_once(c, s, x, v, u))
            ):
                return True
            _restore(c, s, mark)
    return False


# How far around a visit's window the repair's widest ways clear a carer's route, narrow then
# wide: minutes before the window opens and after the visit would end at its latest (a
# breakfast call may need the carer's whole morning re-planned, but every stop taken off must
# find a place again).
CLEAR_MARGINS = ((60, 60), (180, 120))


@jit
def _pin_waits(c: Arrays, s: Arrays, v: int, w: int) -> bool:
    """Whether ``w`` may not join ``v`` yet: ``v`` has a pinned worker not on it, and ``w`` is
    not one (a pinned visit is staffed with its pinned workers or not at all)."""
    for i in range(2):
        p = c.pin[v, i]
        if p >= 0 and p != w and not has_worker(c, s, v, p):
            return c.pin[v, 1 - i] != w
    return False


@jit
def _clear_onto(c: Arrays, s: Arrays, v: int, h: int, wide: int, out: Any, n: int) -> int:
    """Take every stop within margins ``CLEAR_MARGINS[wide]`` of ``v``'s window off shift ``h``
    (into ``out`` from ``n``), then put ``v`` on ``h`` without rescheduling; the count in
    ``out`` after, -1 if that fails."""
    if not may_take(c, s, v, h) or _pin_waits(c, s, v, c.shift_w[h]):
        return -1
    before, after = CLEAR_MARGINS[wide]
    lo = c.earliest[v] - before
    hi = c.last[v] + c.dur[v] + after
    got = _clear_window(c, s, h, lo, hi, out[n:])
    # The schedule cannot be derived while a double-up is half crewed: on its second route the
    # starts stay as they were before the clearing, which only ever makes the place found later.
    if got < 0 or (s.ncrew[v] == 0 and not reschedule(c, s)):
        return -1
    _cost, pos = insertion_cost(c, s, v, h, True)
    if pos == NO:
        return -1
    insert_entry(c, s, h, pos, 2 * v, True)
    return n + got


@jit
def _clear_for(c: Arrays, s: Arrays, v: int, h: int, wide: int) -> bool:
    """Staff ``v`` with shift ``h``'s worker by taking every stop near its window (margins
    ``CLEAR_MARGINS[wide]``) off ``h`` at once (a double-up's other member where it fits, or
    on a second route cleared the same way), then put the visits taken off back, tightest
    first, where they fit or make room as :func:`_room_once` does (one left unstaffed is
    judged by the objective, with the rest). False if ``v`` cannot be staffed so; the caller
    rolls back."""
    taken = s.cleared
    n = _clear_onto(c, s, v, h, wide, taken, 0)
    if n < 0:
        return False
    if s.ncrew[v] == c.req[v]:
        if not reschedule(c, s):
            return False
    elif not insert_visit(c, s, v, 0.0, 4):
        mark = _mark(s)
        m = -1
        for q in range(c.cand_ptr[v], c.cand_ptr[v + 1]):
            h2 = c.cand_h[q]
            if h2 != h:
                m = _clear_onto(c, s, v, h2, wide, taken, n)
                if m >= 0 and s.ncrew[v] == c.req[v] and reschedule(c, s):
                    break
                m = -1
                _restore(c, s, mark)
        if m < 0:
            return False
        n = m
    keys = s.cleared_keys
    for j in range(n):
        u = taken[j]
        keys[j] = (c.last[u] - c.earliest[u]) / c.unit - 1000.0 * c.req[u]
    _sort_by(keys, taken, n)
    for j in range(n):
        u = taken[j]
        if s.ncrew[u] == 0 and not insert_visit(c, s, u, 0.0, 4):
            _room_once(c, s, u, v, NO)
    return True


@jit
def _kept(c: Arrays, s: Arrays, cur: float) -> bool:
    """Whether what was done since :func:`begin` leaves a complete, settled rota below
    ``cur``."""
    return complete(c, s) and settle(c, s) and objective(c, s) < cur - EPS


@jit
def _cleared_for(c: Arrays, s: Arrays, v: int, cur: float) -> bool:
    """Staff ``v`` by clearing one candidate's route around it (:func:`_clear_for`), narrowly
    then widely, where that takes the objective below ``cur``; the state as it was if not."""
    for wide in range(len(CLEAR_MARGINS)):
        for q in range(c.cand_ptr[v], c.cand_ptr[v + 1]):
            begin(s)
            if _clear_for(c, s, v, c.cand_h[q], wide) and _kept(c, s, cur):
                return True
            rollback(c, s)
    return False


@jit
def repair(c: Arrays, s: Arrays, order: Any, clear: bool) -> int:
    """Staff each unstaffed visit of ``order`` in turn where that lowers the objective, making
    room in every way :func:`_room_twice` tries, in a fixed order, and with ``clear`` then by
    clearing a candidate's route around it (:func:`_cleared_for`); how many it staffed.

    The annealing's chains (:func:`mv_insert`) draw one route and one stop at random, so a
    double-up that needs two routes cleared at once is rarely found that way."""
    placed = 0
    for v in order:
        if c.lock[v] or s.ncrew[v] == c.req[v] or c.cand_ptr[v + 1] - c.cand_ptr[v] < c.req[v]:
            continue
        cur = objective(c, s)
        begin(s)
        if _room_twice(c, s, v) and _kept(c, s, cur):
            placed += 1
            continue
        rollback(c, s)
        if clear and _cleared_for(c, s, v, cur):
            placed += 1
    return placed


@jit
def mv_relocate(c: Arrays, s: Arrays) -> bool:
    """One member of a crew (or a shadow) moves to another route or place in its own."""
    v = random_staffed(c, s)
    if v == NO:
        return False
    i = np.random.randint(s.ncrew[v])
    h = s.crew[v, i]
    w = c.shift_w[h]
    if pinned_member(c, v, w):
        return False
    p0 = find_pos(s, h, 2 * v)
    remove_entry(c, s, h, p0, True)
    ncand = c.cand_ptr[v + 1] - c.cand_ptr[v]
    # Granular: a handful of candidate routes, plus the route it came from.
    best = np.inf
    bh = NO
    bp = NO
    for k in range(6):
        h2 = h if k == 0 else c.cand_h[c.cand_ptr[v] + np.random.randint(ncand)]
        if not may_take(c, s, v, h2):
            continue
        cost, pos = insertion_cost(c, s, v, h2, True)
        if pos == NO or (h2 == h and (k > 0 or pos == p0)):
            continue
        cost += np.random.random()
        if cost < best:
            best, bh, bp = cost, h2, pos
    if bh == NO:
        return False
    insert_entry(c, s, bh, bp, 2 * v, True)
    return True


@jit
def mv_swap(c: Arrays, s: Arrays) -> bool:
    """Two crew members on visits near each other in time trade places."""
    v = random_staffed(c, s)
    if v == NO:
        return False
    h1 = s.crew[v, np.random.randint(s.ncrew[v])]
    w1 = c.shift_w[h1]
    ncand = c.cand_ptr[v + 1] - c.cand_ptr[v]
    h2 = c.cand_h[c.cand_ptr[v] + np.random.randint(ncand)]
    if h2 == h1 or s.rlen[h2] == 0 or c.shift_w[h2] == w1:
        return False
    w2 = c.shift_w[h2]
    # The stop of h2 closest in time to v.
    j = NO
    gap = BIG
    for i in range(s.rlen[h2]):
        e = s.route[h2, i]
        if e & 1:
            continue
        d = abs(s.start[e >> 1] - s.start[v])
        if d < gap:
            gap = d
            j = i
    if j == NO:
        return False
    u = s.route[h2, j] >> 1
    if u == v or pinned_member(c, v, w1) or pinned_member(c, u, w2):
        return False
    if c.can_h[u, w1] != h1 or has_worker(c, s, u, w1) or has_worker(c, s, v, w2):
        return False
    p1 = find_pos(s, h1, 2 * v)
    remove_entry(c, s, h1, p1, True)
    p2 = find_pos(s, h2, 2 * u)
    remove_entry(c, s, h2, p2, True)
    _c1, q1 = insertion_cost(c, s, u, h1, True)
    _c2, q2 = insertion_cost(c, s, v, h2, True)
    if q1 == NO or q2 == NO:
        return False
    insert_entry(c, s, h1, q1, 2 * u, True)
    insert_entry(c, s, h2, q2, 2 * v, True)
    return True


@jit
def mv_two_opt(c: Arrays, s: Arrays) -> bool:
    """2-opt*: two routes of one day exchange their tails after a cut each."""
    v = random_staffed(c, s)
    if v == NO:
        return False
    h1 = s.crew[v, np.random.randint(s.ncrew[v])]
    ncand = c.cand_ptr[v + 1] - c.cand_ptr[v]
    h2 = c.cand_h[c.cand_ptr[v] + np.random.randint(ncand)]
    w1 = c.shift_w[h1]
    w2 = c.shift_w[h2]
    if w1 == w2:
        return False
    i1 = find_pos(s, h1, 2 * v)
    # Cut h2 where its stops pass v's start.
    i2 = 0
    while i2 < s.rlen[h2] and s.start[s.route[h2, i2] >> 1] < s.start[v]:
        i2 += 1
    n1 = s.rlen[h1] - i1
    n2 = s.rlen[h2] - i2
    if n1 + n2 == 0 or n1 > 12 or n2 > 12:
        return False
    for k in range(n1):
        e = s.route[h1, i1 + k]
        u = e >> 1
        if e & 1:
            if c.shad_h[u] != h2:
                return False
        elif c.can_h[u, w2] != h2 or pinned_member(c, u, w1):
            return False
        if has_worker(c, s, u, w2):
            return False
    for k in range(n2):
        e = s.route[h2, i2 + k]
        u = e >> 1
        if e & 1:
            if c.shad_h[u] != h1:
                return False
        elif c.can_h[u, w1] != h1 or pinned_member(c, u, w2):
            return False
        if has_worker(c, s, u, w1):
            return False
    tail1 = s.buf1
    tail2 = s.buf2
    for k in range(n1):
        tail1[k] = remove_entry(c, s, h1, i1, True)
    for k in range(n2):
        tail2[k] = remove_entry(c, s, h2, i2, True)
    for k in range(n2):
        insert_entry(c, s, h1, i1 + k, tail2[k], True)
    for k in range(n1):
        insert_entry(c, s, h2, i2 + k, tail1[k], True)
    return True


@jit
def mv_or_opt(c: Arrays, s: Arrays) -> bool:
    """A string of two or three consecutive stops moves, in order, to another route."""
    v = random_staffed(c, s)
    if v == NO:
        return False
    h1 = s.crew[v, np.random.randint(s.ncrew[v])]
    i1 = find_pos(s, h1, 2 * v)
    k = 2 + np.random.randint(2)
    if i1 + k > s.rlen[h1]:
        return False
    ncand = c.cand_ptr[v + 1] - c.cand_ptr[v]
    h2 = c.cand_h[c.cand_ptr[v] + np.random.randint(ncand)]
    w1 = c.shift_w[h1]
    w2 = c.shift_w[h2]
    if w1 == w2:
        return False
    for j in range(k):
        e = s.route[h1, i1 + j]
        u = e >> 1
        if e & 1 or c.can_h[u, w2] != h2 or pinned_member(c, u, w1) or has_worker(c, s, u, w2):
            return False
    seg = s.buf1
    for j in range(k):
        seg[j] = remove_entry(c, s, h1, i1, True)
    _cost, pos = insertion_cost(c, s, seg[0] >> 1, h2, True)
    if pos == NO:
        return False
    for j in range(k):
        insert_entry(c, s, h2, pos + j, seg[j], True)
    return True


@jit
def _take(c: Arrays, s: Arrays, u: int, nt: int) -> int:
    """Unstaff ``u`` for a ruin unless a pin holds it, and its linked visits with it (so both
    ends of a link can move together); the count of visits in ``s.buf1`` after."""
    taken = s.buf1
    if s.ncrew[u] != c.req[u] or nt >= taken.shape[0]:
        return nt
    for i in range(s.ncrew[u]):
        if pinned_member(c, u, c.shift_w[s.crew[u, i]]):
            return nt
    remove_visit(c, s, u)
    taken[nt] = u
    nt += 1
    for q in range(c.link_ptr[u], c.link_ptr[u + 1]):
        x = c.link_to[q]
        free = c.pin[x, 0] < 0 and not c.lock[x]
        if nt < taken.shape[0] and s.ncrew[x] == c.req[x] and free:
            remove_visit(c, s, x)
            taken[nt] = x
            nt += 1
    return nt


@jit
def _take_run(c: Arrays, s: Arrays, h: int, first: int, k: int, buf: Any, nt: int) -> int:
    """Unstaff the visits of stops ``first`` to ``first + k - 1`` of route ``h`` (as
    :func:`_take`), holding the stops in ``buf`` while the route changes; the count after."""
    for q in range(k):
        buf[q] = s.route[h, first + q]
    for q in range(k):
        if buf[q] % 2 == 0:  # a shadow leaves with the visit it stands beside
            nt = _take(c, s, buf[q] // 2, nt)
    return nt


@jit
def ruin_route(c: Arrays, s: Arrays) -> int:
    """Empty the shortest of three routes drawn through staffed visits; the count taken."""
    best = NO
    for _ in range(3):
        v = random_staffed(c, s)
        if v != NO:
            h = s.crew[v, 0]
            if best == NO or s.rlen[h] < s.rlen[best]:
                best = h
    if best == NO:
        return 0
    return _take_run(c, s, best, 0, s.rlen[best], s.buf2, 0)


@jit
def ruin_strings(c: Arrays, s: Arrays) -> int:
    """Cut a string of consecutive stops out of each of one to three routes that pass near a
    seed (the routes of the seed's nearest visits, nearest first); the count taken.

    Several routes each lose a run of stops around one place, so the place's visits can be
    re-sequenced across them (slack induced by string removals, Christiaens and Vanden Berghe).
    """
    v = random_staffed(c, s)
    if v == NO:
        return 0
    strings = 1 + np.random.randint(3)
    length = 1 + np.random.randint(c.ruin_max)
    cut = s.buf2  # the routes cut so far, then each string's stops
    ncut = 0
    nt = 0
    kn = c.near.shape[1]
    for j in range(-1, kn):
        u = v if j < 0 else c.near[v, j]
        if u < 0 or ncut >= strings:
            break
        if s.ncrew[u] == 0:
            continue
        h = s.crew[u, np.random.randint(s.ncrew[u])]
        seen = False
        for q in range(ncut):
            if cut[q] == h:
                seen = True
        if seen:
            continue
        cut[ncut] = h
        ncut += 1
        n = s.rlen[h]
        k = min(length, n)
        i = find_pos(s, h, 2 * u)
        first = max(0, min(i - np.random.randint(k), n - k))
        nt = _take_run(c, s, h, first, k, cut[ncut:], nt)
    return nt


@jit
def _sort_by(keys: Any, items: Any, n: int) -> None:
    """Sort ``items[:n]`` by ``keys[:n]`` in place, both together (a few dozen at most: an
    insertion sort, which needs no array made)."""
    for j in range(1, n):
        kj = keys[j]
        ij = items[j]
        i = j - 1
        while i >= 0 and keys[i] > kj:
            keys[i + 1] = keys[i]
            items[i + 1] = items[i]
            i -= 1
        keys[i + 1] = kj
        items[i + 1] = ij


@jit
def mv_ruin(c: Arrays, s: Arrays) -> bool:
    """Ruin and recreate: visits near a seed in space and time (with their linked visits), or a
    string of stops from each of a few routes near a seed, or now and then a whole short route,
    are unstaffed, then put back tightest first at their cheapest places, in a random
    near-order. ``c.ruin_share`` holds the shares of the route and string ruins."""
    x = np.random.random()
    if x < c.ruin_share[0]:
        nt = ruin_route(c, s)
    elif x < c.ruin_share[0] + c.ruin_share[1]:
        nt = ruin_strings(c, s)
    else:
        v = random_staffed(c, s)
        if v == NO:
            return False
        size = 2 + np.random.randint(c.ruin_max - 1)
        nt = 0
        kn = c.near.shape[1]
        for j in range(-1, kn):
            u = v if j < 0 else c.near[v, j]
            if u < 0 or nt >= size:
                break
            if np.random.random() >= 0.2:
                nt = _take(c, s, u, nt)
    taken = s.buf1
    if nt == 0:
        return False
    if not reschedule(c, s):
        return False
    # Tightest first: double-ups, then the narrowest windows.
    keys = s.buf_f
    for j in range(nt):
        u = taken[j]
        keys[j] = (c.last[u] - c.earliest[u]) / c.unit - 1000.0 * c.req[u] + 30 * np.random.random()
    _sort_by(keys, taken, nt)
    for j in range(nt):
        insert_visit(c, s, taken[j], 0.5, 2)
    return True


@jit
def mv_handover(c: Arrays, s: Arrays) -> bool:
    """Continuity: one carer's visits to a client on a day (or the whole week) go to a carer the
    client already sees, removing a face when it was the carer's last visit there."""
    v = random_staffed(c, s)
    if v == NO:
        return False
    cl = c.vclient[v]
    h0 = s.crew[v, np.random.randint(s.ncrew[v])]
    wa = c.shift_w[h0]
    # A target the client already sees (or a familiar carer), from v's candidates.
    ncand = c.cand_ptr[v + 1] - c.cand_ptr[v]
    wb = NO
    for _ in range(8):
        h = c.cand_h[c.cand_ptr[v] + np.random.randint(ncand)]
        w = c.shift_w[h]
        if w != wa and (s.cw[cl, w] > 0 or c.familiar[cl, w] or c.team_bonus[cl, w] > 0):
            wb = w
            break
    if wb == NO:
        return False
    week = np.random.random() < 0.4
    day = c.vday[v]
    moved = 0
    for q in range(c.cv_ptr[cl], c.cv_ptr[cl + 1]):
        u = c.cv[q]
        if not week and c.vday[u] != day:
            continue
        if s.ncrew[u] != c.req[u]:
            continue
        ha = NO
        for i in range(s.ncrew[u]):
            if c.shift_w[s.crew[u, i]] == wa:
                ha = s.crew[u, i]
        if ha == NO:
            continue
        hb = c.can_h[u, wb]
        if hb < 0 or has_worker(c, s, u, wb) or pinned_member(c, u, wa):
            continue
        remove_entry(c, s, ha, find_pos(s, ha, 2 * u), True)
        _cost, pos = insertion_cost(c, s, u, hb, True)
        if pos == NO:
            # Make room on wb's route: the stop in the way goes back to the pool and is
            # reinserted after the handover.
            return False
        insert_entry(c, s, hb, pos, 2 * u, True)
        moved += 1
    return moved > 0


@jit
def mv_client_swap(c: Arrays, s: Arrays) -> bool:
    """Two carers trade two clients for a day: a's visits to one client for b's to another."""
    v = random_staffed(c, s)
    if v == NO:
        return False
    ha = s.crew[v, np.random.randint(s.ncrew[v])]
    wa = c.shift_w[ha]
    ncand = c.cand_ptr[v + 1] - c.cand_ptr[v]
    hb = c.cand_h[c.cand_ptr[v] + np.random.randint(ncand)]
    wb = c.shift_w[hb]
    if wb == wa or s.rlen[hb] == 0:
        return False
    e = s.route[hb, np.random.randint(s.rlen[hb])]
    if e & 1:
        return False
    u = e >> 1
    c1 = c.vclient[v]
    c2 = c.vclient[u]
    if c1 == c2:
        return False
    day = c.vday[v]
    # Every visit of c1 that day by a goes to b, and of c2 by b to a.
    na = 0
    for q in range(c.cv_ptr[c1], c.cv_ptr[c1 + 1]):
        x = c.cv[q]
        if c.vday[x] == day and s.ncrew[x] == c.req[x] and has_worker(c, s, x, wa):
            if c.can_h[x, wb] < 0 or has_worker(c, s, x, wb) or pinned_member(c, x, wa):
                return False
            s.buf1[na] = x
            na += 1
    nb = 0
    for q in range(c.cv_ptr[c2], c.cv_ptr[c2 + 1]):
        x = c.cv[q]
        if c.vday[x] == day and s.ncrew[x] == c.req[x] and has_worker(c, s, x, wb):
            if c.can_h[x, wa] < 0 or has_worker(c, s, x, wa) or pinned_member(c, x, wb):
                return False
            s.buf2[nb] = x
            nb += 1
    if na == 0 or nb == 0:
        return False
    for j in range(na):
        x = s.buf1[j]
        for i in range(s.ncrew[x]):
            if c.shift_w[s.crew[x, i]] == wa:
                h = s.crew[x, i]
                remove_entry(c, s, h, find_pos(s, h, 2 * x), True)
                break
    for j in range(nb):
        x = s.buf2[j]
        for i in range(s.ncrew[x]):
            if c.shift_w[s.crew[x, i]] == wb:
                h = s.crew[x, i]
                remove_entry(c, s, h, find_pos(s, h, 2 * x), True)
                break
    for j in range(na):
        x = s.buf1[j]
        h = c.can_h[x, wb]
        _, pos = insertion_cost(c, s, x, h, True)
        if pos == NO:
            return False
        insert_entry(c, s, h, pos, 2 * x, True)
    for j in range(nb):
        x = s.buf2[j]
        h = c.can_h[x, wa]
        _cost, pos = insertion_cost(c, s, x, h, True)
        if pos == NO:
            return False
        insert_entry(c, s, h, pos, 2 * x, True)
    return True


@jit
def _clear_window(c: Arrays, s: Arrays, h: int, lo: int, hi: int, out: Any) -> int:
    """Take out of route ``h`` every stop overlapping ``[lo, hi]`` (not pinned); the visits
    left unstaffed are written to ``out``. Returns how many; -1 if a pinned stop is in the way."""
    n = 0
    i = 0
    w = c.shift_w[h]
    while i < s.rlen[h]:
        e = s.route[h, i]
        x = e >> 1
        if s.start[x] + c.dur[x] < lo or s.start[x] > hi:
            i += 1
            continue
        if pinned_member(c, x, w):
            return -1
        if e & 1:
            remove_entry(c, s, h, i, True)
            continue
        remove_visit(c, s, x)
        out[n] = x
        n += 1
    return n


@jit
def mv_coordinator(c: Arrays, s: Arrays) -> bool:
    """The coordinator rule: a coordinator joins a visit to a client they still owe a visit,
    shadowing it or covering it in a carer's place, and clears their own route around it if
    need be (the visits taken off go back to whoever can take them). Less often a shadow is
    dropped to free the coordinator's time."""
    nr = c.rq_n.shape[0]
    if nr == 0:
        return False
    if np.random.random() < 0.2:
        v = random_staffed(c, s)
        if v == NO or s.shadow[v] < 0:
            return False
        h = s.shadow[v]
        remove_entry(c, s, h, find_pos(s, h, 2 * v + 1), True)
        return True
    r = np.random.randint(nr)
    nvis = c.rq_ptr[r + 1] - c.rq_ptr[r]
    if req_short(c, s, r) == 0 or nvis == 0:
        return False
    u = c.rq_vis[c.rq_ptr[r] + np.random.randint(nvis)]
    k = c.rq_k[r]
    cl = c.vclient[u]
    if s.rq_cnt[r, cl] > 0 or s.ncrew[u] != c.req[u] or has_worker(c, s, u, k) or c.lock[u]:
        return False
    cover = c.can_h[u, k] >= 0 and (c.shad_h[u] < 0 or np.random.random() < 0.5)
    h = c.can_h[u, k] if cover else c.shad_h[u]
    nout = 0
    if np.random.random() < 0.6:
        nout = _clear_window(c, s, h, s.start[u] - 90, s.start[u] + c.dur[u] + 90, s.buf2)
        if nout < 0:
            return False
    if cover:
        j = np.random.randint(s.ncrew[u])
        hc = s.crew[u, j]
        if pinned_member(c, u, c.shift_w[hc]):
            return False
        remove_entry(c, s, hc, find_pos(s, hc, 2 * u), True)
        if s.ncrew[u] != c.req[u] - 1:
            return False
    _cost, pos = insertion_cost(c, s, u, h, cover)
    if pos == NO:
        return False
    insert_entry(c, s, h, pos, 2 * u + (0 if cover else 1), True)
    if not reschedule(c, s):
        return False
    for j in range(nout):
        insert_visit(c, s, s.buf2[j], 0.5, 2)
    return True


@jit
def _place_face(c: Arrays, s: Arrays, u: int, cl: int, wa: int) -> bool:
    """Staff ``u`` (short of one crew member) with one of client ``cl``'s current carers other
    than ``wa``, at the cheapest position that passes the time filter; the exact schedule
    checks it, and a second-cheapest is tried if it does not fit. Leaves everything as it was
    on failure."""
    mark = _mark(s)
    for attempt in range(2):
        best = np.inf
        bh = NO
        bp = NO
        for w2 in range(s.cw.shape[1]):
            if w2 == wa or s.cw[cl, w2] == 0:
                continue
            h2 = c.can_h[u, w2]
            if h2 < 0 or has_worker(c, s, u, w2) or (attempt > 0 and s.tried[h2] == u):
                continue
            cost, pos = insertion_cost(c, s, u, h2, True)
            if pos != NO and cost < best:
                best, bh, bp = cost, h2, pos
        if bh == NO:
            return False
        s.tried[bh] = u
        insert_entry(c, s, bh, bp, 2 * u, True)
        if reschedule(c, s):
            return True
        _restore(c, s, mark)
    return False


@jit
def _room_face(c: Arrays, s: Arrays, u: int, cl: int, wa: int, out: Any, nout: int) -> int:
    """Make room for ``u`` on a random one of client ``cl``'s other carers (not ``wa``): take
    out a stop in the way (near ``u``'s window, not ``cl``'s, not locked or pinned), at most two,
    and staff ``u`` there. The visits unstaffed are appended to ``out`` after ``nout``; returns
    the new count, or -1 if no room was made.

    Starts are not rescheduled between the removals (``u``'s crew is short until it is placed,
    which the schedule refuses); taking stops out only lets the others start earlier, so the
    stale starts make the time filter stricter, never looser."""
    h = NO
    k = 0
    for w2 in range(s.cw.shape[1]):
        if w2 == wa or s.cw[cl, w2] == 0:
            continue
        h2 = c.can_h[u, w2]
        if h2 < 0 or s.rlen[h2] == 0 or has_worker(c, s, u, w2):
            continue
        k += 1
        if np.random.randint(k) == 0:
            h = h2
    if h == NO or nout + 2 > out.shape[0]:
        return -1
    margin = 30 * c.unit
    for _round in range(2):
        j = NO
        k = 0
        for i in range(s.rlen[h]):
            x = s.route[h, i] >> 1
            if c.vclient[x] == cl or c.lock[x] or c.pin[x, 0] >= 0:
                continue
            if s.start[x] + c.dur[x] < c.earliest[u] - margin:
                continue
            if s.start[x] > c.last[u] + c.dur[u] + margin:
                break
            k += 1
            if np.random.randint(k) == 0:
                j = i
        if j == NO:
            return -1
        e = s.route[h, j]
        if e & 1:
            remove_entry(c, s, h, j, True)
        else:
            remove_visit(c, s, e >> 1)
            out[nout] = e >> 1
            nout += 1
        _cost, pos = insertion_cost(c, s, u, h, True)
        if pos != NO:
            insert_entry(c, s, h, pos, 2 * u, True)
            return nout if reschedule(c, s) else -1
    return -1


@jit
def mv_face(c: Arrays, s: Arrays) -> bool:
    """Continuity: a face removed. Of a client seen by two carers or more, the one with the
    fewest visits there (ties drawn) leaves every one of them; each goes to the client's other
    carer with the cheapest feasible position, or, where none has room, to one of them after
    a stop or two in the way are taken off their route (:func:`_room_face`). The visits taken
    off are re-placed last, wherever they fit (unstaffed if nowhere: the objective judges).

    Coordinators are never the face picked: a coordinator at a client is there for the
    coordinator rule (shadowing or covering), whose loss (5,000 by default) no face is worth. On
    generated 40-client agencies a coordinator was the fewest face of 8 clients in 40, and every
    such move the annealing could apply raised the rule's term. A shadow is always a
    coordinator's, so the worker leaving is on the crew of each visit. The move does not apply if
    any of the worker's visits there is locked or pinned to them."""
    v = random_staffed(c, s)
    if v == NO:
        return False
    cl = c.vclient[v]
    if s.faces[cl] < 2:
        return False
    wa = NO
    fewest = BIG
    ties = 0
    for w in range(s.cw.shape[1]):
        n = s.cw[cl, w]
        if n == 0 or c.is_coord[w]:
            continue
        if n < fewest:
            fewest = n
            wa = w
            ties = 1
        elif n == fewest:
            ties += 1
            if np.random.randint(ties) == 0:
                wa = w
    if wa == NO:
        return False
    todo = s.buf1
    nt = 0
    for q in range(c.cv_ptr[cl], c.cv_ptr[cl + 1]):
        u = c.cv[q]
        if not has_worker(c, s, u, wa):
            continue
        if pinned_member(c, u, wa) or nt >= todo.shape[0]:
            return False
        todo[nt] = u
        nt += 1
    displaced = s.buf2
    nd = 0
    for j in range(nt):
        u = todo[j]
        h = NO
        for i in range(s.ncrew[u]):
            if c.shift_w[s.crew[u, i]] == wa:
                h = s.crew[u, i]
        if h == NO:
            return False
        remove_entry(c, s, h, find_pos(s, h, 2 * u), True)
        if _place_face(c, s, u, cl, wa):
            continue
        nd = _room_face(c, s, u, cl, wa, displaced, nd)
        if nd < 0:
            return False
    for j in range(nd):
        x = displaced[j]
        if s.ncrew[x] == 0:
            insert_visit(c, s, x, 1.0, 2)
    return True


@jit
def mv_intra(c: Arrays, s: Arrays) -> bool:
    """Within one route: a string of one to three stops moves a few places, or two stops a few
    places apart trade places. Positions are drawn, not chosen: the annealing judges."""
    v = random_staffed(c, s)
    if v == NO:
        return False
    h = s.crew[v, np.random.randint(s.ncrew[v])]
    n = s.rlen[h]
    if n < 3:
        return False
    i = find_pos(s, h, 2 * v)
    if np.random.random() < 0.5:
        j = i + np.random.randint(-3, 4)
        if j == i or j < 0 or j >= n:
            return False
        a = min(i, j)
        b = max(i, j)
        eb = remove_entry(c, s, h, b, True)
        ea = remove_entry(c, s, h, a, True)
        insert_entry(c, s, h, a, eb, True)
        insert_entry(c, s, h, b, ea, True)
        return True
    k = 1 + np.random.randint(3)
    if i + k > n:
        return False
    seg = s.buf1
    for j in range(k):
        seg[j] = remove_entry(c, s, h, i, True)
    to = i + np.random.randint(-4, 5)
    if to == i or to < 0 or to > s.rlen[h]:
        return False
    for j in range(k):
        insert_entry(c, s, h, to + j, seg[j], True)
    return True


@jit
def do_move(c: Arrays, s: Arrays, kind: int) -> bool:
    if kind == M_INSERT:
        return mv_insert(c, s)
    if kind == M_RELOCATE:
        return mv_relocate(c, s)
    if kind == M_SWAP:
        return mv_swap(c, s)
    if kind == M_TWO_OPT:
        return mv_two_opt(c, s)
    if kind == M_OR_OPT:
        return mv_or_opt(c, s)
    if kind == M_RUIN:
        return mv_ruin(c, s)
    if kind == M_HANDOVER:
        return mv_handover(c, s)
    if kind == M_COORDINATOR:
        return mv_coordinator(c, s)
    if kind == M_CLIENT_SWAP:
        return mv_client_swap(c, s)
    if kind == M_FACE:
        return mv_face(c, s)
    return mv_intra(c, s)


@jit
def complete(c: Arrays, s: Arrays) -> bool:
    """Every visit fully staffed or not at all, and no shadow beside an unstaffed visit."""
    for k in range(s.nops[0]):
        v = s.ops[k, 3] >> 1
        if s.ncrew[v] != 0 and s.ncrew[v] != c.req[v]:
            return False
        if s.shadow[v] >= 0 and s.ncrew[v] != c.req[v]:
            return False
    return True


@jit
def seed(value: int) -> None:
    np.random.seed(value)


@jit
def pick(weights: Any, total: float) -> int:
    x = np.random.random() * total
    for k in range(weights.shape[0]):
        x -= weights[k]
        if x < 0:
            return k
    return weights.shape[0] - 1


@jit
def anneal(
    c: Arrays,
    s: Arrays,
    moves: int,
    done: int,
    total: int,
    t0: float,
    t1: float,
    move_weights: Any,
    stats: Any,
    best_routes: Any,
    best_rlen: Any,
    best_obj: Any,
    saved: Any,
) -> None:
    """``moves`` steps of simulated annealing, from step ``done`` of ``total``.

    The temperature falls geometrically from ``t0`` to ``t1`` over ``total`` steps, so a run
    cut into chunks follows the same path as one call. ``saved_routes`` mirrors the routes after
    every accepted move; the best state is copied to ``best_routes`` just before the search
    leaves it (``saved[0]`` says whether it is there), and by :func:`keep_best` at the end.
    ``stats[kind, 0..2]``: tried, applicable and feasible, accepted; ``stats[kind, 3]``: improved.
    """
    wsum = 0.0
    for k in range(move_weights.shape[0]):
        wsum += move_weights[k]
    cur = objective(c, s)
    ratio = t1 / t0
    for step in range(moves):
        frac = (done + step) / total
        temp = t0 * ratio**frac
        kind = pick(move_weights, wsum)
        stats[kind, 0] += 1
        begin(s)
        ok = do_move(c, s, kind) and complete(c, s) and settle(c, s)
        if not ok:
            rollback(c, s)
            continue
        stats[kind, 1] += 1
        new = objective(c, s)
        delta = new - cur
        if delta <= EPS or np.random.random() < np.exp(-delta / temp):
            if delta > EPS and saved[0] == 0:
                # Leaving the best state: ``saved_routes`` still holds it (the routes before
                # this move).
                _copy_into(best_routes, s.saved_routes)
                _copy_into(best_rlen, s.saved_rlen)
                saved[0] = 1
            stats[kind, 2] += 1
            if delta < -EPS:
                stats[kind, 3] += 1
            _snapshot_touched(s)
            cur = new
            if cur < best_obj[0] - EPS:
                best_obj[0] = cur
                saved[0] = 0
        else:
            rollback(c, s)


@jit
def keep_best(s: Arrays, best_routes: Any, best_rlen: Any, saved: Any) -> None:
    """At the end of a run: the current state is the best one if it was never saved."""
    if saved[0] == 0:
        _copy_into(best_routes, s.route)
        _copy_into(best_rlen, s.rlen)
        saved[0] = 1


@jit
def _snapshot_touched(s: Arrays) -> None:
    """Keep ``saved_routes`` equal to ``route`` on the routes this move touched."""
    for k in range(s.nops[0]):
        h = s.ops[k, 1]
        s.saved_rlen[h] = s.rlen[h]
        for i in range(s.rlen[h]):
            s.saved_routes[h, i] = s.route[h, i]


@jit
def construct(c: Arrays, s: Arrays, order: Any, tries: int) -> int:
    """Cheapest feasible insertion of each visit of ``order`` in turn; how many it staffed."""
    placed = 0
    for v in order:
        if s.ncrew[v] == c.req[v]:
            continue
        begin(s)
        if insert_visit(c, s, v, 0.0, tries) and settle(c, s):
            placed += 1
        else:
            rollback(c, s)
    return placed


@jit
def greedy_append(c: Arrays, s: Arrays, order: Any) -> int:
    """The naive baseline: each visit in ``order`` goes to the first free crew (candidates in
    worker order), appended after their last stop."""
    placed = 0
    for v in order:
        if s.ncrew[v] == c.req[v]:
            continue
        begin(s)
        if c.pin[v, 0] >= 0:
            # Pinned workers come first, whatever the order: the insertion knows how.
            if insert_visit(c, s, v, 0.0, 1) and settle(c, s):
                placed += 1
            else:
                rollback(c, s)
            continue
        need = c.req[v]
        for q in range(c.cand_ptr[v], c.cand_ptr[v + 1]):
            if need == 0:
                break
            h = c.cand_h[q]
            if not may_take(c, s, v, h):
                continue
            pos = s.rlen[h]
            mark = _mark(s)
            insert_entry(c, s, h, pos, 2 * v, True)
            if need > 1:
                need -= 1  # the crew's first member: checked with the second
                continue
            if reschedule(c, s) and caps_ok(c, s):
                need = 0
            else:
                _restore(c, s, mark)
        if need == 0 and s.ncrew[v] == c.req[v] and settle(c, s):
            placed += 1
        else:
            rollback(c, s)
    return placed
