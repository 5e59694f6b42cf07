"""A realistic sample agency as the spreadsheets an office keeps (``scenarios/sample_agency/``).

Made from :func:`scenarios.generator.generate` (150 clients, 70 carers and 3 coordinators in a
town, seeded) by reading its first week back into records: each carer's shifts become their
usual weekly hours, each client's repeated calls become care packages, and the two weeks of
history before it become the one-off history import. Clients and carers get names, and the town
two areas, North and South, split at the centre's latitude; carers who live near the line work in
both. The demo and the README walk-through import these files and plan weeks from
:data:`FIRST_WEEK` on. Rewrite them with ``python -m scenarios.sample_agency``.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from scenarios.generator import TOWN_CENTRE, generate
from scenarios.planning import PublishedRota, week_problem
from scenarios.records import (
    WEEKDAYS,
    Available,
    ClientRecord,
    HistoryRecord,
    PackageLink,
    PackageRecord,
    Records,
    WorkerRecord,
)
from scenarios.spreadsheets import Sheet, read_file, write_csv, write_workbook

FIRST_WEEK: Final = date(2027, 1, 4)
CLIENTS: Final = 150
SEED: Final = 2
NAME: Final = "Northside Homecare"
DIRECTORY: Final = Path(__file__).parent / "sample_agency"
BOTH_AREAS_KM: Final = 1.0  # carers living this close to the dividing line work in both areas

_FEMALE = [
    "Amy",
    "Beth",
    "Chloe",
    "Dawn",
    "Ella",
    "Faye",
    "Gemma",
    "Hannah",
    "Iris",
    "Jade",
    "Kate",
    "Lucy",
    "Mia",
    "Nina",
    "Olive",
    "Pam",
    "Rosa",
    "Sara",
    "Tina",
    "Una",
    "Vera",
    "Wendy",
    "Zoe",
    "Anita",
    "Bola",
    "Ewa",
    "Femi",
    "Grace",
    "Hui",
    "Ife",
    "Joan",
    "Mary",
    "Edna",
    "Vera",
]
_MALE = [
    "Adam",
    "Ben",
    "Carl",
    "Dan",
    "Eric",
    "Finn",
    "Gary",
    "Huw",
    "Ian",
    "Jack",
    "Karl",
    "Liam",
    "Matt",
    "Neil",
    "Owen",
    "Paul",
    "Ravi",
    "Sam",
    "Tom",
    "Vik",
    "Will",
    "Yusuf",
    "Chen",
    "Dev",
    "Arthur",
    "Frank",
    "Harold",
    "Stan",
]
_LAST = [
    "Shaw",
    "Patel",
    "Holt",
    "Evans",
    "Khan",
    "Price",
    "Reid",
    "Walsh",
    "Brook",
    "Lowe",
    "Ahmed",
    "Green",
    "Hart",
    "Kerr",
    "Lamb",
    "Marsh",
    "Nash",
    "Okafor",
    "Pike",
    "Quinn",
    "Rowe",
    "Singh",
    "Todd",
    "Vance",
    "Wood",
    "Young",
    "Begum",
    "Clarke",
    "Doyle",
    "Ellis",
    "Flynn",
    "Gill",
]


def _namer(seed: int, label: str) -> Any:
    rng = random.Random(f"{seed}:{label}")
    used: set[str] = set()

    def name(gender: str | None, title: bool = False) -> str:
        female = gender == "female" or (gender is None and rng.random() < 0.6)
        while True:
            text = f"{rng.choice(_FEMALE if female else _MALE)} {rng.choice(_LAST)}"
            if title:
                text = f"{rng.choice(('Mrs', 'Miss', 'Ms') if female else ('Mr',))} {text}"
            if text not in used:
                used.add(text)
                return text

    return name


def _area(lat: float) -> str:
    return "North" if lat >= TOWN_CENTRE[0] else "South"


def _slot(minute: int) -> str:
    return (
        "am"
        if minute < 11 * 60
        else "lunch"
        if minute < 15 * 60
        else "tea"
        if minute < 19 * 60
        else "bed"
    )


def sample_records(clients: int = CLIENTS, seed: int = SEED) -> Records:
    """The sample agency's records (the same arguments give the same records)."""
    problem = generate(clients, seed, start=FIRST_WEEK, agency=NAME)
    carer_name, client_name = _namer(seed, "carers"), _namer(seed, "clients")
    km_per_degree = 111.32
    workers: list[WorkerRecord] = []
    for w in problem["workers"]:
        pattern = sorted(
            {
                (
                    WEEKDAYS[datetime.fromisoformat(s["start"]).weekday()],
                    s["start"][11:16],
                    s["end"][11:16],
                )
                for s in w["shifts"]
            },
            key=lambda p: (WEEKDAYS.index(p[0]), p[1]),
        )
        lat = w["home"]["lat"]
        near_line = abs(lat - TOWN_CENTRE[0]) * km_per_degree < BOTH_AREAS_KM
        coordinator = w["role"] == "coordinator"
        workers.append(
            WorkerRecord(
                id=w["id"],
                name=carer_name(w.get("gender")),
                role=w["role"],
                areas=[] if coordinator or near_line else [_area(lat)],
                home=w["home"],
                travel_mode=w["travel_mode"],
                skills=w["skills"],
                gender=w.get("gender"),
                contracted_hours_per_week=_hours(w.get("contracted_minutes_per_week")),
                max_hours_per_week=_hours(w.get("max_minutes_per_week")),
                max_hours_per_day=_hours(w.get("max_minutes_per_day")),
                availability=[Available(day=d, start=a, end=b) for d, a, b in pattern],
                phone=f"0113 496 {500 + len(workers):04d}",  # drama numbers, as the clients'
            )
        )
    client_records = [
        ClientRecord(
            id=c["id"],
            name=client_name(c.get("gender_preference"), title=True),
            area=_area(c["location"]["lat"]),
            location=c["location"],
            address=c.get("address"),
            # Ofcom's numbers for drama (0113 496 0000-0999): they look real and reach nobody.
            phone=f"0113 496 {i:04d}",
            coordinator=c.get("coordinator"),
            preferred_workers=c.get("preferred_workers", []),
            excluded_workers=c.get("excluded_workers", []),
            gender_preference=c.get("gender_preference"),
            care_plan=c.get("care_plan"),
        )
        for i, c in enumerate(problem["clients"])
    ]
    # A call is the same package on every day it recurs: same client, window, length and needs.
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for v in problem["visits"]:
        key = (
            v["client"],
            v["earliest_start"][11:16],
            v["latest_start"][11:16],
            v["duration_minutes"],
            v.get("workers_required", 1),
            tuple(v.get("skills", [])),
        )
        groups[key].append(v)
    package_of: dict[str, str] = {}
    packages: dict[str, dict[str, Any]] = {}
    taken: set[str] = set()
    for key, visits in sorted(groups.items()):
        client, early, late, duration, crew, skills = key
        minute = int(early[:2]) * 60 + int(early[3:])
        base = f"{client}-{_slot(minute)}" if len(visits) > 1 else f"{client}-weekly"
        ident, n = base, 2
        while ident in taken:
            ident, n = f"{base}{n}", n + 1
        taken.add(ident)
        for v in visits:
            package_of[v["id"]] = ident
        packages[ident] = {
            "id": ident,
            "client": client,
            "days": [
                WEEKDAYS[date.fromisoformat(v["earliest_start"][:10]).weekday()] for v in visits
            ],
            "start_date": FIRST_WEEK,
            "earliest_start": early,
            "latest_start": late,
            "duration_minutes": duration,
            "workers_required": crew,
            "skills": list(skills),
            "first": visits[0],
        }
    package_records = []
    for p in packages.values():
        first = p.pop("first")
        link = first.get("after")
        if link is not None:
            p["after"] = PackageLink(
                package=package_of[link["visit"]],
                min_minutes=link["min_minutes"],
                max_minutes=link["max_minutes"],
            )
        package_records.append(PackageRecord(**p))
    history = [
        HistoryRecord(client=h["client"], worker=h["worker"], date=h["date"])
        for h in problem["history"]["visits"]
    ] + [
        HistoryRecord(client=h["client"], worker=h["coordinator"], date=h["date"], coordinator=True)
        for h in problem["history"]["coordinator_visits"]
    ]
    return Records(
        workers=workers, clients=client_records, packages=package_records, history=history
    )


def _hours(minutes: int | None) -> float | None:
    return None if minutes is None else round(minutes / 60, 2)


def write_sample(directory: Path = DIRECTORY) -> list[Path]:
    """Write the sample agency as four CSV files and one workbook holding all four sheets."""
    records = sample_records()
    directory.mkdir(parents=True, exist_ok=True)
    sheets: dict[Sheet, Sequence[Any]] = {
        "carers": records.workers,
        "clients": records.clients,
        "packages": records.packages,
        "history": records.history,
    }
    paths = []
    for sheet, rows in sheets.items():
        path = directory / f"{sheet}.csv"
        write_csv(path, sheet, rows)
        paths.append(path)
    write_workbook(directory / "agency.xlsx", sheets)
    paths.append(directory / "agency.xlsx")
    return paths


@dataclass(frozen=True)
class WeekResult:
    """One planned week of the cycle, and how many of its faces the week before had."""

    week: date
    staffed: int
    visits: int
    familiar_share: float
    faces_per_client: float
    kept_share: float | None  # carer visits by someone who saw the same client the week before


def weekly_cycle(
    solve: Callable[[dict[str, Any]], dict[str, Any]],
    weeks: int = 2,
    directory: Path = DIRECTORY,
) -> list[WeekResult]:
    """Import the sample spreadsheets, then plan ``weeks`` weeks in a row from
    :data:`FIRST_WEEK`, each week's rota published (its history) before the next is planned.

    ``solve`` takes a problem (contract JSON) and returns its rota (contract JSON).
    """
    parsed = read_file("agency.xlsx", (directory / "agency.xlsx").read_bytes())
    records = Records(
        workers=parsed.carers,
        clients=parsed.clients,
        packages=parsed.packages,
        history=parsed.history,
    )
    published: list[PublishedRota] = []
    out: list[WeekResult] = []
    before: dict[str, set[str]] | None = None
    for n in range(weeks):
        week = FIRST_WEEK + timedelta(days=7 * n)
        problem = week_problem(records, week, agency=NAME, published=published)
        rota = solve(problem)
        published.append(PublishedRota("", problem, rota))
        client_of = {v["id"]: v["client"] for v in problem["visits"]}
        faces: dict[str, set[str]] = defaultdict(set)
        kept = total = 0
        for a in rota["assignments"]:
            client = client_of[a["visit"]]
            for worker in a["workers"]:
                faces[client].add(worker)
                total += 1
                kept += before is not None and worker in before.get(client, set())
        metrics = rota["metrics"]
        out.append(
            WeekResult(
                week,
                metrics["visits_assigned"],
                metrics["visits_total"],
                metrics["familiar_visit_share"],
                sum(len(f) for f in faces.values()) / max(1, len(faces)),
                None if before is None else kept / max(1, total),
            )
        )
        before = faces
    return out


if __name__ == "__main__":
    for written in write_sample():
        print(written)
