"""The engine's arrays: constants from :class:`~solver.data.ProblemData`, the mutable state, and
the bridges between the state and a :class:`~solver.rota.Solution`.

Times are in the data's units (minutes, or seconds for a :func:`~solver.data.scaled` copy where
travel is fractional); travel, working minutes and lateness are priced in exact minutes as the
contract prices them. The terms are the contract's weights, in :data:`TERMS` order, then the
sick-call re-solve's (:data:`RESOLVE_TERMS`), which :func:`anchored` switches on.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from solver.data import ProblemData
from solver.engine import kernels as k
from solver.rota import Solution

I64 = NDArray[np.int64]
F64 = NDArray[np.float64]
B = NDArray[np.bool_]

# The contract's weights, in the order of the engine's ``terms`` array.
TERMS = (
    "unassigned_visit",
    "travel_minute",
    "home_travel_minute",
    "distinct_worker",
    "unfamiliar_worker",
    "contract_shortfall_minute",
    "late_minute",
    "max_late_minute",
    "coordinator_rule",
    "face_travel_minutes",
    "faces_over_cap",
    "primary_share_shortfall",
    "unfamiliar_visit",
)
# The re-solve's terms, after the contract's: published visits changed (priced at the change
# penalty) and the cover price of the workers asked to take an orphan (priced as it stands).
RESOLVE_TERMS = ("changed_visit", "cover_request")
# Granular neighbours per visit (nearest in space and time) for ruin-and-recreate.
NEAR = 12
# Largest ruin, in visits (linked visits come out with them).
RUIN_MAX = 8
# Shares of the ruins that empty a whole route (the move that takes a route out of use, which no
# local move does; Solomon C206: four routes where three do) and that cut strings of stops from
# a few routes near a seed; the rest take a seed's nearest visits.
ROUTE_RUIN = 0.1
STRING_RUIN = 0.3
JOURNAL = 4096


class Consts(NamedTuple):
    earliest: I64
    last: I64
    latest: I64
    dur: I64
    dur_min: F64
    req: I64
    vclient: I64
    vday: I64
    vplace: I64
    after_v: I64
    after_min: I64
    after_max: I64
    link_ptr: I64
    link_to: I64
    link_apart: B  # parallel to link_to: a distinct_workers link (no worker on both crews)
    cand_ptr: I64
    cand_h: I64
    can_h: I64
    shad_h: I64
    pin: I64
    shift_w: I64
    shift_start: I64
    shift_end: I64
    wmode: I64
    wplace: I64
    travel: I64
    travel_x: F64
    familiar: B
    max_week: F64
    max_day: F64
    contracted: F64
    is_coord: B
    rq_of: I64
    in_o: B
    rq_required: I64
    rq_month_end: B
    rq_n: I64
    rq_k: I64
    rq_ptr: I64
    rq_vis: I64
    weights: F64
    unit: float
    near: I64
    cv_ptr: I64
    cv: I64
    team_bonus: F64
    ruin_max: int
    ruin_share: F64
    faces_cap: int
    primary_share: float
    # The re-solve's anchor (see :func:`anchored`); empty in a normal solve.
    anc_s: I64
    anc_w: I64
    anc_k: I64
    anc_n: I64
    orphan: B
    cover_price: F64
    lock: B
    mov: I64
    max_changes: float


class State(NamedTuple):
    route: I64
    rlen: I64
    start: I64
    crew: I64
    ncrew: I64
    shadow: I64
    late: F64
    cw: I64
    faces: I64
    cwk: I64
    faces_wk: I64
    ccount: I64
    ctotal: I64
    cshort: F64
    work: F64
    work_day: F64
    rq_cnt: I64
    rq_seen: I64
    terms: F64
    saved_terms: F64
    unst: I64
    unst_pos: I64
    n_unst: I64
    # journal and scratch
    ops: I64
    nops: I64
    slog: I64
    slog_late: F64
    nslog: I64
    dirty: I64
    ndirty: I64
    overflow: I64
    late_dirty: I64
    tag: I64
    rstamp: I64
    vstamp: I64
    cl_routes: I64
    ncl: I64
    cl_visits: I64
    ncv: I64
    snew: I64
    tried: I64
    buf1: I64
    buf2: I64
    buf_f: F64
    # The repair's: the stops in the way of a visit, two levels deep (shift, entry), whether
    # taking each off opens a place, and the visits a clearing took off with their order.
    way: I64
    opens: B
    cleared: I64
    cleared_keys: F64
    saved_routes: I64
    saved_rlen: I64
    bonus_scale: F64
    # The re-solve's counters: per visit, its published entries present and other entries
    # present; per worker, the orphans they cover.
    match: I64
    extra: I64
    chg: I64
    asked: I64


def _csr(lists: list[list[int]]) -> tuple[I64, I64]:
    ptr = np.zeros(len(lists) + 1, dtype=np.int64)
    ptr[1:] = np.cumsum([len(x) for x in lists])
    flat = np.array([x for xs in lists for x in xs], dtype=np.int64)
    return ptr, flat


def _near(data: ProblemData, k_near: int) -> I64:
    """Per visit, the ``k_near`` visits of its day nearest in travel plus a gap in time."""
    n = data.n_visits
    out = np.full((n, k_near), -1, dtype=np.int64)
    places = data.client_place[data.visit_client]
    mid = (data.earliest + data.last_start) / 2
    for day in range(len(data.days)):
        idx = np.flatnonzero(data.visit_day == day)
        if len(idx) < 2:
            continue
        travel = data.travel_exact[0][np.ix_(places[idx], places[idx])]
        gap = np.abs(mid[idx][:, None] - mid[idx][None, :]) / data.unit
        score = travel + 0.25 * gap
        np.fill_diagonal(score, np.inf)
        kk = min(k_near, len(idx) - 1)
        nearest = np.argsort(score, axis=1, kind="stable")[:, :kk]
        out[idx, :kk] = idx[nearest]
    return out


def consts(data: ProblemData, team_bonus: F64 | None = None) -> Consts:
    """The engine's constants for ``data`` (its time units: minutes or seconds)."""
    nv, nw, nc = data.n_visits, data.n_workers, data.n_clients
    unit = data.unit
    links: list[list[int]] = [[] for _ in range(nv)]
    apart: list[list[int]] = [[] for _ in range(nv)]
    for later in np.flatnonzero(data.after_visit >= 0).tolist():
        first = int(data.after_visit[later])
        distinct = int(data.after_distinct[later])
        links[later].append(first)
        links[first].append(later)
        apart[later].append(distinct)
        apart[first].append(distinct)
    link_ptr, link_to = _csr(links)
    link_apart = _csr(apart)[1].astype(bool)
    cands = [[data.visit_shift[v][w] for w in ws] for v, ws in enumerate(data.candidates)]
    cand_ptr, cand_h = _csr(cands)
    cand_w = _csr(data.candidates)[1]
    can_h = np.full((nv, nw), -1, dtype=np.int64)
    can_h[np.repeat(np.arange(nv), np.diff(cand_ptr)), cand_w] = cand_h
    shad_h = np.full(nv, -1, dtype=np.int64)
    for v in range(nv):
        kc = int(data.client_coordinator[data.visit_client[v]])
        if kc >= 0 and data.can_shadow(v, kc):
            shad_h[v] = data.visit_shift[v][kc]
    pin = np.full((nv, 2), -1, dtype=np.int64)
    for v, ws in enumerate(data.pinned):
        for i, w in enumerate(ws[:2]):
            pin[v, i] = w
    reqs = data.requirements
    rq_of = np.full((nw, len(data.days)), -1, dtype=np.int64)
    in_o = np.zeros((len(reqs), nc), dtype=bool)
    for r, req in enumerate(reqs):
        rq_of[req.coordinator, req.days] = r
        in_o[r, req.clients] = True
    # Per requirement, the visits its coordinator could join for a client still owed a visit.
    owed = [
        np.flatnonzero(
            (rq_of[req.coordinator, data.visit_day] == r)
            & in_o[r, data.visit_client]
            & ((shad_h >= 0) | (can_h[:, req.coordinator] >= 0))
        ).tolist()
        for r, req in enumerate(reqs)
    ]
    rq_ptr, rq_vis = _csr(owed)
    by_client: list[list[int]] = [[] for _ in range(nc)]
    for v, cl in enumerate(data.visit_client.tolist()):
        by_client[cl].append(v)
    cv_ptr, cv = _csr(by_client)
    wt = data.weights
    weights = np.array([float(getattr(wt, t)) for t in TERMS] + [0.0, 1.0], dtype=np.float64)
    # The policy's face price is in minutes of travel.
    weights[k.T_FACE_TRAVEL] = wt.face_travel_minutes * wt.travel_minute
    if wt.faces_cap is None:
        weights[k.T_OVER_CAP] = 0.0

    def cap(values: I64) -> F64:
        return np.where(values >= 0, values / unit, -1.0).astype(np.float64)

    return Consts(
        earliest=data.earliest.astype(np.int64),
        last=data.last_start.astype(np.int64),
        latest=data.latest.astype(np.int64),
        dur=data.duration.astype(np.int64),
        dur_min=(data.duration / unit).astype(np.float64),
        req=data.required.astype(np.int64),
        vclient=data.visit_client.astype(np.int64),
        vday=data.visit_day.astype(np.int64),
        vplace=data.client_place[data.visit_client].astype(np.int64),
        after_v=data.after_visit.astype(np.int64),
        after_min=data.after_min.astype(np.int64),
        after_max=data.after_max.astype(np.int64),
        link_ptr=link_ptr,
        link_to=link_to,
        link_apart=link_apart,
        cand_ptr=cand_ptr,
        cand_h=cand_h,
        can_h=can_h,
        shad_h=shad_h,
        pin=pin,
        shift_w=data.shift_worker.astype(np.int64),
        shift_start=data.shift_start.astype(np.int64),
        shift_end=data.shift_end.astype(np.int64),
        wmode=data.worker_mode.astype(np.int64),
        wplace=data.worker_place.astype(np.int64),
        travel=np.ascontiguousarray(data.travel, dtype=np.int64),
        travel_x=np.ascontiguousarray(data.travel_exact, dtype=np.float64),
        familiar=data.familiar.astype(bool),
        max_week=cap(data.max_week),
        max_day=cap(data.max_day),
        contracted=(data.contracted / unit).astype(np.float64),
        is_coord=data.is_coordinator.astype(bool),
        rq_of=rq_of,
        in_o=in_o,
        rq_required=np.array([r.required for r in reqs], dtype=np.int64),
        rq_month_end=np.array([r.month_end for r in reqs], dtype=bool),
        rq_n=np.array([len(r.clients) for r in reqs], dtype=np.int64),
        rq_k=np.array([r.coordinator for r in reqs], dtype=np.int64),
        rq_ptr=rq_ptr,
        rq_vis=rq_vis,
        weights=weights,
        unit=float(unit),
        near=_near(data, NEAR),
        cv_ptr=cv_ptr,
        cv=cv,
        team_bonus=(np.zeros((nc, nw), dtype=np.float64) if team_bonus is None else team_bonus),
        ruin_max=RUIN_MAX,
        ruin_share=np.array([ROUTE_RUIN, STRING_RUIN], dtype=np.float64),
        faces_cap=-1 if wt.faces_cap is None else int(wt.faces_cap),
        primary_share=float(wt.primary_carer_share),
        anc_s=np.full(nv, -1, dtype=np.int64),
        anc_w=np.full((nv, 2), -1, dtype=np.int64),
        anc_k=np.full(nv, -1, dtype=np.int64),
        anc_n=np.zeros(nv, dtype=np.int64),
        orphan=np.zeros(nv, dtype=bool),
        cover_price=np.zeros(nw, dtype=np.float64),
        lock=np.zeros(nv, dtype=bool),
        mov=np.arange(nv, dtype=np.int64),
        max_changes=float(nv + 1),
    )


class Anchor(NamedTuple):
    """What a sick-call re-solve holds the engine to: the published rota and its prices.

    Per visit: the published start (-1 unstaffed), crew and shadow (workers, -1 none). A
    *tracked* visit (published, not orphaned) costs ``change_penalty`` whenever its crew,
    shadow or start differ from the published ones; it never starts earlier unless
    ``release`` says so (the earliest schedule may then move it anywhere in its window). An
    orphan
    costs ``cover_price[w]`` once per worker ``w`` counted on orphans not theirs before. A
    *locked* visit never moves and an unstaffed locked one stays so. At most ``max_changes``
    tracked visits change.
    """

    start: I64
    crew: I64
    shadow: I64
    tracked: B
    orphan: B
    lock: B
    change_penalty: float
    cover_price: F64
    max_changes: int
    release: B


def anchored(c: Consts, a: Anchor) -> Consts:
    """``c`` for a re-solve around ``a``: published starts held, the re-solve's terms priced.

    A locked published visit's window opens and closes at its published start. A tracked
    one's window opens there too, so the earliest schedule keeps that start unless a move
    pushes the visit later (a change); where ``a.release`` is set, the earliest schedule of a
    route a move touches brings the visit forward wherever it can, each time a change (the
    caller then puts back what it can, :func:`solver.resolve.toward_published`)."""
    held = (a.start >= 0) & ((a.tracked & ~a.release) | a.lock)
    outside = np.flatnonzero(held & ((a.start < c.earliest) | (a.start > c.last)))
    if len(outside):
        # The caller orphans every published start its window no longer allows.
        v = int(outside[0])
        raise ValueError(f"visit {v}: held start {a.start[v]} outside its window")
    earliest = c.earliest.copy()
    last = c.last.copy()
    earliest[held] = a.start[held]
    fixed = held & a.lock
    last[fixed] = a.start[fixed]
    weights = c.weights.copy()
    weights[k.T_CHANGED] = a.change_penalty
    counted = (a.crew >= 0).sum(axis=1) + (a.shadow >= 0)
    return c._replace(
        earliest=earliest,
        last=last,
        anc_s=a.start.astype(np.int64),
        anc_w=a.crew.astype(np.int64),
        anc_k=a.shadow.astype(np.int64),
        anc_n=np.where(a.tracked, counted, 0).astype(np.int64),
        orphan=a.orphan.astype(bool),
        cover_price=a.cover_price.astype(np.float64),
        lock=a.lock.astype(bool),
        mov=np.flatnonzero(~a.lock).astype(np.int64),
        max_changes=float(a.max_changes),
        weights=weights,
    )


def route_capacity(data: ProblemData) -> int:
    """The most stops one shift could ever hold (its candidate visits, plus room for shadows)."""
    shifts = [h for fits in data.visit_shift for h in fits.values()]
    per_shift = np.bincount(np.array(shifts, dtype=np.int64), minlength=len(data.shift_worker))
    return int(per_shift.max(initial=0)) + 1


def empty_state(data: ProblemData, c: Consts, cap: int) -> State:
    """No visit staffed; routes of ``cap`` stops (:func:`route_capacity`)."""
    nv, nw, nc, nh = data.n_visits, data.n_workers, data.n_clients, len(data.shift_worker)
    nr = len(c.rq_n)
    weeks = (len(data.days) + 6) // 7
    terms = np.zeros(k.N_TERMS, dtype=np.float64)
    terms[k.T_UNASSIGNED] = nv
    # Every tracked visit starts changed, as every visit starts unstaffed.
    terms[k.T_CHANGED] = float(np.count_nonzero(c.anc_n))
    terms[k.T_SHORTFALL] = float(c.contracted[c.contracted > 0].sum())
    terms[k.T_COORD] = float(
        sum(
            n if end else req
            for n, end, req in zip(c.rq_n, c.rq_month_end, c.rq_required, strict=False)
        )
    )
    return State(
        route=np.full((nh, cap), -1, dtype=np.int64),
        rlen=np.zeros(nh, dtype=np.int64),
        start=np.full(nv, -1, dtype=np.int64),
        crew=np.full((nv, 2), -1, dtype=np.int64),
        ncrew=np.zeros(nv, dtype=np.int64),
        shadow=np.full(nv, -1, dtype=np.int64),
        late=np.zeros(nv, dtype=np.float64),
        cw=np.zeros((nc, nw), dtype=np.int64),
        faces=np.zeros(nc, dtype=np.int64),
        cwk=np.zeros((nc, weeks, nw), dtype=np.int64),
        faces_wk=np.zeros((nc, weeks), dtype=np.int64),
        ccount=np.zeros((nc, nw), dtype=np.int64),
        ctotal=np.zeros(nc, dtype=np.int64),
        cshort=np.zeros(nc, dtype=np.float64),
        work=np.zeros(nw, dtype=np.float64),
        work_day=np.zeros((nw, len(data.days)), dtype=np.float64),
        rq_cnt=np.zeros((nr, nc), dtype=np.int64),
        rq_seen=np.zeros(nr, dtype=np.int64),
        terms=terms,
        saved_terms=terms.copy(),
        unst=np.arange(nv, dtype=np.int64),
        unst_pos=np.arange(nv, dtype=np.int64),
        n_unst=np.array([nv], dtype=np.int64),
        ops=np.zeros((JOURNAL, 4), dtype=np.int64),
        nops=np.zeros(1, dtype=np.int64),
        slog=np.zeros((4 * JOURNAL + nv, 2), dtype=np.int64),
        slog_late=np.zeros(4 * JOURNAL + nv, dtype=np.float64),
        nslog=np.zeros(1, dtype=np.int64),
        dirty=np.zeros(256, dtype=np.int64),
        ndirty=np.zeros(1, dtype=np.int64),
        overflow=np.zeros(1, dtype=np.int64),
        late_dirty=np.zeros(1, dtype=np.int64),
        tag=np.zeros(1, dtype=np.int64),
        rstamp=np.zeros(nh, dtype=np.int64),
        vstamp=np.zeros(nv, dtype=np.int64),
        cl_routes=np.zeros(nh, dtype=np.int64),
        ncl=np.zeros(1, dtype=np.int64),
        cl_visits=np.zeros(nv, dtype=np.int64),
        ncv=np.zeros(1, dtype=np.int64),
        snew=np.zeros(nv, dtype=np.int64),
        tried=np.full(nh, -1, dtype=np.int64),
        buf1=np.zeros(max(64, cap), dtype=np.int64),
        buf2=np.zeros(max(64, cap), dtype=np.int64),
        buf_f=np.zeros(max(64, cap), dtype=np.float64),
        # All the routes together hold at most three entries a visit (two crew, a shadow): the
        # most stops that can stand in one visit's way.
        way=np.zeros((2, 3 * nv + 1, 2), dtype=np.int64),
        opens=np.zeros(3 * nv + 1, dtype=np.bool_),
        cleared=np.zeros(2 * cap, dtype=np.int64),
        cleared_keys=np.zeros(2 * cap, dtype=np.float64),
        saved_routes=np.full((nh, cap), -1, dtype=np.int64),
        saved_rlen=np.zeros(nh, dtype=np.int64),
        bonus_scale=np.ones(1, dtype=np.float64),
        match=np.zeros(nv, dtype=np.int64),
        extra=np.zeros(nv, dtype=np.int64),
        chg=(c.anc_n > 0).astype(np.int64),
        asked=np.zeros(nw, dtype=np.int64),
    )


def fill(c: Consts, s: State, routes: list[list[int]]) -> bool:
    """Put ``routes`` (entries per shift, in order) into the empty state ``s`` and schedule them.

    Returns False if the routes do not make a feasible rota (a window, shift, link or cap)."""
    cap = s.route.shape[1]
    route = np.full((len(routes), cap), -1, dtype=np.int64)
    rlen = np.array([len(entries) for entries in routes], dtype=np.int64)
    if len(rlen) and rlen.max() > cap:
        h = int(rlen.argmax())
        raise ValueError(f"route {h} has {rlen[h]} stops, more than its {cap} candidate visits")
    for h, entries in enumerate(routes):
        route[h, : len(entries)] = entries
    ok = k.fill_routes(c, s, route, rlen)
    half = bool(np.any((s.ncrew > 0) & (s.ncrew < c.req)))
    s.saved_routes[:] = s.route
    s.saved_rlen[:] = s.rlen
    s.late_dirty[0] = 1
    k.refresh_max_late(c, s)
    return ok and not half


def routes_of(data: ProblemData, sol: Solution) -> list[list[int]]:
    """Each shift's entries in start order, from a solution (starts in the data's units)."""
    per: list[list[tuple[int, int, int]]] = [[] for _ in range(len(data.shift_worker))]

    # Python's lists: indexing numpy one cell at a time is slow, and a re-solve loads twice.
    duration = data.duration.tolist()
    first, last = data.shift_start.tolist(), data.shift_end.tolist()

    def shift(v: int, w: int) -> int:
        s0 = sol.start[v]
        h = data.visit_shift[v].get(w, -1)
        end = s0 + duration[v]
        if h >= 0 and first[h] <= s0 and end <= last[h]:
            return h
        for h2 in data.worker_shifts[w]:
            if first[h2] <= s0 and end <= last[h2]:
                return int(h2)
        return -1

    for v, ws in sol.workers.items():
        for w in ws:
            h = shift(v, w)
            if h >= 0:
                per[h].append((sol.start[v], v, 2 * v))
        for kk in sol.shadows.get(v, []):
            h = shift(v, kk)
            if h >= 0:
                per[h].append((sol.start[v], v, 2 * v + 1))
    return [[e for _, _, e in sorted(items)] for items in per]


def solution_of(data: ProblemData, c: Consts, s: State) -> Solution:
    """The state as a solution, starts in the data's units."""
    sol = Solution()
    for v in range(data.n_visits):
        if s.ncrew[v] == c.req[v]:
            sol.start[v] = int(s.start[v])
            sol.workers[v] = sorted(int(c.shift_w[s.crew[v, i]]) for i in range(s.ncrew[v]))
            if s.shadow[v] >= 0:
                sol.shadows[v] = [int(c.shift_w[s.shadow[v]])]
    return sol
