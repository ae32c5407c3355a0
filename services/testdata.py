"""Provably synthetic test data, shaped like each sheet (DESIGN.md "Test data").

Three parts: the population (patients, providers, visits drawn with Faker from one seed,
every value synthetic by the PHI rules, relations kept), the shape (a tab's header row
matched to the fields below through test-data/mappings.toml and the workspace's per-sheet
overrides), and the rows (one per record, lined up with the headers). Writing them to a DEV3
spreadsheet is services/testdata_job.py.

Determinism: every draw comes from one `random.Random` seeded from (seed, sheet number) by
SHA-256, Faker's instance included, and every date is computed from the configured as-of
date, never from today. The same seed gives the same rows on any day, in any process.
"""

from __future__ import annotations

import csv
import datetime
import enum
import hashlib
import io
import json
import random
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TypeVar

from faker import Faker

from services.emulator import a1
from services.errors import UsageError
from services.phi import record_words
from services.reference import ReferenceSet

SYNTHETIC_PREFIX = "SYN-"
# Area codes of the practice's region; never toll-free ones (800, 833, ...), which the PHI
# rules do not count as synthetic. 555-0100 itself is left out: it is the practice's number.
AREA_CODES = ("312", "773", "872", "630", "331", "847", "224", "708", "815", "779", "217")
EMAIL_DOMAINS = ("example.com", "example.org", "example.net")
PAYERS = (
    "Blue Cross Blue Shield of Illinois",
    "Aetna",
    "UnitedHealthcare",
    "Cigna",
    "Humana",
    "Medicare",
    "Illinois Medicaid",
    "Ambetter",
    "Self-pay",
)
SPECIALTIES = (
    ("Family Medicine", "MD"),
    ("Internal Medicine", "MD"),
    ("Pediatrics", "MD"),
    ("Family Medicine", "DO"),
    ("Family Nurse Practitioner", "NP"),
    ("Physician Assistant", "PA-C"),
)
# (reason for visit, ICD-10-CM code, its description): real codes, a small common set
REASONS = (
    ("Annual physical", "Z00.00", "Encounter for general adult medical examination"),
    ("Sore throat", "J02.9", "Acute pharyngitis, unspecified"),
    ("Cough and congestion", "J06.9", "Acute upper respiratory infection, unspecified"),
    ("Blood pressure check", "I10", "Essential (primary) hypertension"),
    ("Diabetes follow-up", "E11.9", "Type 2 diabetes mellitus without complications"),
    ("Cholesterol follow-up", "E78.5", "Hyperlipidemia, unspecified"),
    ("Low back pain", "M54.50", "Low back pain, unspecified"),
    ("Anxiety", "F41.1", "Generalized anxiety disorder"),
    ("Heartburn", "K21.9", "Gastro-esophageal reflux disease without esophagitis"),
    ("Painful urination", "N39.0", "Urinary tract infection, site not specified"),
    ("Headache", "R51.9", "Headache, unspecified"),
    ("Flu shot", "Z23", "Encounter for immunization"),
    ("Asthma follow-up", "J45.909", "Unspecified asthma, uncomplicated"),
    ("Ear pain", "H66.90", "Otitis media, unspecified, unspecified ear"),
)
WELL_CHILD = ("Well-child visit", "Z00.129", "Encounter for routine child health examination")
VISITS_PER_PATIENT = 2
MAX_REDRAWS = 50
T = TypeVar("T")


class Entity(enum.StrEnum):
    """What one row of a tab stands for."""

    PATIENT = "patient"
    PROVIDER = "provider"
    VISIT = "visit"


# field -> the entity it belongs to; a tab holding any visit field lists visits
FIELDS: dict[str, Entity] = {
    **dict.fromkeys(
        (
            "record_id",
            "mrn",
            "full_name",
            "first_name",
            "last_name",
            "name_last_first",
            "dob",
            "age",
            "sex",
            "address",
            "street",
            "city",
            "state",
            "zip",
            "phone",
            "email",
            "ssn",
            "payer",
            "member_id",
            "group_number",
            "notes",
        ),
        Entity.PATIENT,
    ),
    **dict.fromkeys(("provider_name", "npi", "specialty"), Entity.PROVIDER),
    **dict.fromkeys(
        (
            "visit_id",
            "visit_date",
            "visit_time",
            "reason",
            "icd10",
            "diagnosis_text",
            "visit_status",
            "blood_pressure",
            "pulse",
            "temperature",
            "weight",
            "height",
            "oxygen_saturation",
            "respiratory_rate",
        ),
        Entity.VISIT,
    ),
}
SKIP = "skip"  # an override that leaves a column empty on purpose (not reported)
# fields whose value is a synthetic id in every row (a member id is blank for a self-pay
# patient, so it cannot carry a row's id)
ID_FIELDS = ("record_id", "mrn", "visit_id")


# the population ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Provider:
    id: str
    first: str
    last: str
    credential: str
    specialty: str
    npi: str

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}, {self.credential}"


@dataclass(frozen=True)
class Patient:
    mrn: str  # the record's synthetic id
    first: str
    last: str
    sex: str
    dob: datetime.date
    street: str
    city: str
    state: str
    zip: str
    phone: str
    email: str
    ssn: str
    payer: str
    member_id: str
    group_number: str
    provider: Provider  # primary care
    status: str

    def age_on(self, day: datetime.date) -> int:
        return age_on(self.dob, day)


@dataclass(frozen=True)
class Visit:
    id: str
    patient: Patient
    provider: Provider
    day: datetime.date
    time: str
    status: str
    reason: tuple[str, str, str]
    systolic: int
    diastolic: int
    pulse: int
    temperature: float
    weight: int
    height: int
    oxygen_saturation: int
    respiratory_rate: int


@dataclass
class Population:
    seed: int
    as_of: datetime.date
    providers: list[Provider]
    patients: list[Patient]
    visits: list[Visit]
    redraws: int = 0  # people drawn again because they matched a production patient

    def records(self, entity: Entity) -> Sequence[Patient | Provider | Visit]:
        return {
            Entity.PATIENT: self.patients,
            Entity.PROVIDER: self.providers,
            Entity.VISIT: self.visits,
        }[entity]


def sheet_seed(seed: int, sheet_number: int) -> int:
    """One seed per sheet, the same in every process (no Python hash randomisation)."""
    digest = hashlib.sha256(f"sheetstage-test-data/{seed}/{sheet_number}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def age_on(dob: datetime.date, day: datetime.date) -> int:
    return day.year - dob.year - ((day.month, day.day) < (dob.month, dob.day))


def npi_check_digit(first_nine: str) -> str:
    """The NPI's Luhn check digit, computed with the card-issuer prefix 80840 (CMS)."""
    total = 24  # the prefix 80840's contribution
    for index, char in enumerate(reversed(first_nine)):
        digit = int(char)
        if index % 2 == 0:
            digit *= 2
            digit -= 9 if digit > 9 else 0
        total += digit
    return str((10 - total % 10) % 10)


def valid_npi(npi: str) -> bool:
    return bool(re.fullmatch(r"[12]\d{9}", npi)) and npi_check_digit(npi[:9]) == npi[9]


@dataclass(frozen=True)
class _Words:
    """A weighted word list from Faker's en_US providers, ready for fast seeded draws."""

    words: tuple[str, ...]
    cumulative: tuple[float, ...]

    @classmethod
    def of(cls, table: Mapping[str, float] | Sequence[str]) -> _Words:
        weights = table if isinstance(table, Mapping) else dict.fromkeys(table, 1.0)
        total, cumulative = 0.0, []
        for weight in weights.values():
            total += weight
            cumulative.append(total)
        return cls(tuple(weights), tuple(cumulative))

    def draw(self, rng: random.Random) -> str:
        return rng.choices(self.words, cum_weights=self.cumulative)[0]


@dataclass(frozen=True)
class _Vocabulary:
    female: _Words
    male: _Words
    last: _Words
    street_suffixes: _Words
    city_prefixes: _Words
    city_suffixes: _Words


@cache
def _vocabulary() -> _Vocabulary:
    """Faker's en_US names and address words (names from these lists are the ones the PHI
    scanner knows to be common, so a synthetic name never looks like a rare real one)."""
    from faker.providers.address.en_US import Provider as Address
    from faker.providers.person.en_US import Provider as Person

    return _Vocabulary(
        female=_Words.of(Person.first_names_female),
        male=_Words.of(Person.first_names_male),
        last=_Words.of(Person.last_names),
        street_suffixes=_Words.of(Address.street_suffixes),
        city_prefixes=_Words.of(Address.city_prefixes),
        city_suffixes=_Words.of(Address.city_suffixes),
    )


class _Draw:
    """Every value the population needs, from one seeded Random: Faker's, seeded with
    `seed_instance`, drawing from Faker's en_US word lists."""

    def __init__(self, seed: int, as_of: datetime.date) -> None:
        fake = Faker("en_US")
        fake.seed_instance(seed)
        self.rng: random.Random = fake.random
        self.words = _vocabulary()
        self.as_of = as_of

    def digits(self, count: int) -> str:
        return str(self.rng.randrange(10**count)).zfill(count)

    def first_name(self, sex: str) -> str:
        return (self.words.female if sex == "F" else self.words.male).draw(self.rng)

    def last_name(self) -> str:
        return self.words.last.draw(self.rng)

    def street(self) -> str:
        name = self.first_name(self.rng.choice("FM")) if self.rng.random() < 0.5 else None
        name = name or self.last_name()
        number = self.rng.randint(10, 99999)
        return f"{number} {name} {self.words.street_suffixes.draw(self.rng)}"

    def city(self) -> str:
        prefix = self.words.city_prefixes.draw(self.rng)
        return f"{prefix} {self.last_name()}{self.words.city_suffixes.draw(self.rng)}"

    def phone(self) -> str:
        return f"({self.rng.choice(AREA_CODES)}) 555-01{self.rng.randint(1, 99):02d}"

    def ssn(self) -> str:  # area 666 is never issued
        return f"666-{self.rng.randint(1, 99):02d}-{self.rng.randint(1, 9999):04d}"

    def email(self, first: str, last: str) -> str:
        local = ".".join(re.sub(r"[^a-z]", "", name.lower()) for name in (first, last))
        return f"{local}{self.rng.randint(1, 99)}@{self.rng.choice(EMAIL_DOMAINS)}"

    def dob(self) -> datetime.date:
        """A birth date whose age on the as-of date is drawn from a practice-like spread."""
        band = self.rng.choices(((0, 17), (18, 44), (45, 64), (65, 95)), (20, 35, 28, 17))[0]
        age = self.rng.randint(*band)
        latest = _years_before(self.as_of, age)  # the last birthday that still gives `age`
        earliest = _years_before(self.as_of, age + 1) + datetime.timedelta(days=1)
        return earliest + datetime.timedelta(days=self.rng.randint(0, (latest - earliest).days))

    def provider(self, index: int) -> Provider:
        specialty, credential = self.rng.choice(SPECIALTIES)
        nine = self.rng.choice("12") + self.digits(8)
        return Provider(
            id=f"{SYNTHETIC_PREFIX}D{index:04d}",
            first=self.first_name(self.rng.choice("FM")),
            last=self.last_name(),
            credential=credential,
            specialty=specialty,
            npi=nine + npi_check_digit(nine),
        )

    def patient(self, index: int, providers: Sequence[Provider]) -> Patient:
        sex = self.rng.choice("FM")
        first, last = self.first_name(sex), self.last_name()
        return Patient(
            mrn=f"{SYNTHETIC_PREFIX}{index:07d}",
            first=first,
            last=last,
            sex=sex,
            dob=self.dob(),
            street=self.street(),
            city=self.city(),
            state="IL",
            zip=f"60{self.digits(3)}",
            phone=self.phone(),
            email=self.email(first, last),
            ssn=self.ssn(),
            payer=self.rng.choice(PAYERS),
            member_id=f"{SYNTHETIC_PREFIX}{self.rng.choice('ABCHKMW')}{self.digits(8)}",
            group_number=f"{SYNTHETIC_PREFIX}G{self.digits(6)}",
            provider=self.rng.choice(providers),
            status=self.rng.choices(("Active", "Inactive"), (9, 1))[0],
        )

    def visit(self, index: int, patient: Patient, providers: Sequence[Provider]) -> Visit:
        provider = patient.provider if self.rng.random() < 0.8 else self.rng.choice(providers)
        day = self.as_of + datetime.timedelta(days=self.rng.randint(-365, 60))
        if day >= self.as_of:
            status = "Scheduled"
        else:
            status = self.rng.choices(("Completed", "No-show", "Cancelled"), (85, 8, 7))[0]
        age = patient.age_on(day)
        reason = WELL_CHILD if age < 18 and self.rng.random() < 0.5 else self.rng.choice(REASONS)
        child = age < 18
        systolic = self.rng.randint(90, 115) if child else self.rng.randint(104, 152)
        return Visit(
            id=f"{SYNTHETIC_PREFIX}V{index:07d}",
            patient=patient,
            provider=provider,
            day=day,
            time=f"{self.rng.randint(8, 16):02d}:{self.rng.choice((0, 15, 30, 45)):02d}",
            status=status,
            reason=reason,
            systolic=systolic,
            diastolic=self.rng.randint(55, min(95, systolic - 25)),
            pulse=self.rng.randint(70, 120) if age < 10 else self.rng.randint(56, 98),
            temperature=round(self.rng.uniform(97.2, 99.6), 1),
            weight=_child_weight(age, self.rng) if child else self.rng.randint(108, 262),
            height=min(20 + age * 3, 70) if child else self.rng.randint(59, 76),
            oxygen_saturation=self.rng.randint(95, 100),
            respiratory_rate=self.rng.randint(18, 30) if age < 6 else self.rng.randint(12, 20),
        )


def _years_before(day: datetime.date, years: int) -> datetime.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=day.year - years, day=28)


def _child_weight(age: int, rng: random.Random) -> int:
    return max(7, 7 + age * 7 + rng.randint(-3, 6))


def generate(
    patients: int,
    seed: int,
    as_of: datetime.date,
    reference: ReferenceSet | None = None,
    name_ratio: float = 92.0,
    context_words: Iterable[str] = (),
    visits: int | None = None,
) -> Population:
    """`patients` people with their providers and (unless `visits` says how many) two visits
    each. With the production reference, whatever would make a row match a production patient
    is drawn again: a person whose identifier or name matches one, a person or visit whose date
    beside any word of its row (`context_words`: the headers, keys of JSON records) is a
    production patient's date of birth and surname."""
    draw = _Draw(seed, as_of)
    population = Population(seed, as_of, [], [], [])
    context = frozenset(w.lower() for w in context_words)
    for index in range(1, provider_count(patients) + 1):
        population.providers.append(
            _redrawn(lambda i=index: draw.provider(i), _provider_known, reference, population)
        )
    for index in range(1, patients + 1):
        population.patients.append(
            _redrawn(
                lambda i=index: draw.patient(i, population.providers),
                lambda p, r: _patient_known(p, r, name_ratio, context, as_of),
                reference,
                population,
            )
        )
    count = patients * VISITS_PER_PATIENT if visits is None else visits
    for index in range(1, count + 1 if population.patients else 1):
        population.visits.append(
            _redrawn(
                lambda i=index: draw.visit(
                    i, draw.rng.choice(population.patients), population.providers
                ),
                lambda v, r: _visit_known(v, r, context, as_of),
                reference,
                population,
            )
        )
    population.visits.sort(key=lambda v: (v.day, v.time, v.id))
    return population


def _redrawn(
    make: Callable[[], T],
    known: Callable[[T, ReferenceSet], bool],
    reference: ReferenceSet | None,
    population: Population,
) -> T:
    for _ in range(MAX_REDRAWS):
        candidate = make()
        if reference is None or not known(candidate, reference):
            return candidate
        population.redraws += 1
    raise UsageError(
        f"could not draw a person unlike every production patient in {MAX_REDRAWS} tries; "
        "run `sheetstage reference refresh` (the reference may be damaged) or pick another --seed"
    )


def _patient_known(
    patient: Patient,
    reference: ReferenceSet,
    name_ratio: float,
    context: frozenset[str],
    as_of: datetime.date,
) -> bool:
    identifiers = (
        ("ssn", patient.ssn),
        ("mrn", patient.mrn),
        ("phone", patient.phone),
        ("email", patient.email),
    )
    if any(reference.has(kind, value) for kind, value in identifiers):
        return True
    if reference.dob_digests(patient.dob.isoformat(), patient_words(patient, as_of) | context):
        return True
    return reference.match_name(f"{patient.first} {patient.last}", name_ratio) is not None


def _visit_known(
    visit: Visit, reference: ReferenceSet, context: frozenset[str], as_of: datetime.date
) -> bool:
    """A visit row holds its date, the patient's and the provider's words: the visit's date
    must not be a production birth date beside any of them, nor the patient's beside the
    visit's own words."""
    own = record_words(
        " ".join(str(value(visit)) for value in _VISIT_FIELDS.values())
        + f" {visit.provider.name} {visit.provider.specialty}"
    )
    everything = own | patient_words(visit.patient, as_of) | context
    return bool(
        reference.dob_digests(visit.day.isoformat(), everything)
        or reference.dob_digests(visit.patient.dob.isoformat(), own)
    )


def patient_words(patient: Patient, as_of: datetime.date) -> set[str]:
    """Every word a row about the patient can hold: their values and their provider's."""
    values = [str(value(patient, as_of)) for value in _PATIENT_FIELDS.values()]
    provider = patient.provider
    values += [provider.name, provider.specialty]
    return record_words(" ".join(values))


def _provider_known(provider: Provider, reference: ReferenceSet) -> bool:
    return reference.match_name(f"{provider.first} {provider.last}", 92.0) is not None


# field values -----------------------------------------------------------------------------

Cell = str | int | float


def value_of(name: str, record: Patient | Provider | Visit, as_of: datetime.date) -> Cell:
    """The value of field `name` for one record (a visit answers for its patient and its
    provider, a patient for its primary care provider)."""
    entity = FIELDS[name]
    if isinstance(record, Visit):
        if entity is Entity.VISIT:
            return _visit_value(name, record)
        if entity is Entity.PROVIDER:
            return _provider_value(name, record.provider)
        return _patient_value(name, record.patient, as_of)
    if isinstance(record, Provider):
        if name in ("record_id", "notes"):
            return record.id if name == "record_id" else f"{record.id} synthetic test record"
        return _provider_value(name, record) if entity is Entity.PROVIDER else ""
    if entity is Entity.PROVIDER:
        return _provider_value(name, record.provider)
    if entity is Entity.VISIT:
        return record.status if name == "visit_status" else ""
    return _patient_value(name, record, as_of)


def _insured(value: str, patient: Patient) -> str:
    return value if patient.payer != "Self-pay" else ""


_PATIENT_FIELDS: dict[str, Callable[[Patient, datetime.date], Cell]] = {
    "record_id": lambda p, _: p.mrn,
    "mrn": lambda p, _: p.mrn,
    "full_name": lambda p, _: f"{p.first} {p.last}",
    "first_name": lambda p, _: p.first,
    "last_name": lambda p, _: p.last,
    "name_last_first": lambda p, _: f"{p.last}, {p.first}",
    "dob": lambda p, _: p.dob.strftime("%m/%d/%Y"),
    "age": lambda p, as_of: p.age_on(as_of),
    "sex": lambda p, _: p.sex,
    "address": lambda p, _: f"{p.street}, {p.city}, {p.state} {p.zip}",
    "street": lambda p, _: p.street,
    "city": lambda p, _: p.city,
    "state": lambda p, _: p.state,
    "zip": lambda p, _: p.zip,
    "phone": lambda p, _: p.phone,
    "email": lambda p, _: p.email,
    "ssn": lambda p, _: p.ssn,
    "payer": lambda p, _: p.payer,
    "member_id": lambda p, _: _insured(p.member_id, p),
    "group_number": lambda p, _: _insured(p.group_number, p),
    "notes": lambda p, _: f"{p.mrn} synthetic test record",
}
_VISIT_FIELDS: dict[str, Callable[[Visit], Cell]] = {
    "visit_id": lambda v: v.id,
    "visit_date": lambda v: v.day.strftime("%m/%d/%Y"),
    "visit_time": lambda v: v.time,
    "reason": lambda v: v.reason[0],
    "icd10": lambda v: v.reason[1],
    "diagnosis_text": lambda v: v.reason[2],
    "visit_status": lambda v: v.status,
    "blood_pressure": lambda v: f"{v.systolic}/{v.diastolic}",
    "pulse": lambda v: v.pulse,
    "temperature": lambda v: v.temperature,
    "weight": lambda v: v.weight,
    "height": lambda v: v.height,
    "oxygen_saturation": lambda v: v.oxygen_saturation,
    "respiratory_rate": lambda v: v.respiratory_rate,
}


def _patient_value(name: str, patient: Patient, as_of: datetime.date) -> Cell:
    return _PATIENT_FIELDS[name](patient, as_of)


def _provider_value(name: str, provider: Provider) -> Cell:
    return {"provider_name": provider.name, "npi": provider.npi, "specialty": provider.specialty}[
        name
    ]


def _visit_value(name: str, visit: Visit) -> Cell:
    return _VISIT_FIELDS[name](visit)


# headers -> fields ---------------------------------------------------------------------------

PACKAGED_MAPPINGS = "testdata_mappings.toml"


@dataclass(frozen=True)
class Mappings:
    abbreviations: Mapping[str, str]
    headers: Mapping[str, str]  # normalised header -> field (or SKIP)
    tabs: Mapping[str, str] = field(default_factory=dict)  # extra tab -> its data range
    source: str = "the packaged mappings"

    def normalize(self, header: str) -> str:
        return normalize_header(header, self.abbreviations)

    def field_for(self, header: str) -> str | None:
        return self.headers.get(self.normalize(header))

    def with_overrides(self, path: Path) -> Mappings:
        """The sheet's overrides (workspace test-data/sheet-NNN.toml) over these mappings."""
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return self
        except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as error:
            raise UsageError(f"{path} is not valid TOML ({error}); fix or remove it") from None
        unknown = sorted(set(data) - {"headers", "tabs"})
        if unknown:
            raise UsageError(
                f"{path}: unknown table {unknown[0]!r}; only [headers] and [tabs] are read"
            )
        headers = dict(self.headers)
        for header, name in _table(path, data, "headers").items():
            if name not in FIELDS and name not in (SKIP, ""):
                raise UsageError(
                    f"{path}: [headers] {header!r} = {name!r} is no field; use one of "
                    f'{", ".join(sorted(FIELDS))}, or "skip"'
                )
            headers[self.normalize(header)] = name or SKIP
        tabs = dict(self.tabs)
        for tab, cells in _table(path, data, "tabs").items():
            if not re.fullmatch(r"[A-Z]+[1-9]\d*(:[A-Z]+)?", cells):
                raise UsageError(
                    f'{path}: [tabs] {tab!r} = {cells!r} is not a data range such as "A2:K" '
                    "(the row below the headers, and the last column)"
                )
            tabs[tab] = cells
        return Mappings(self.abbreviations, headers, tabs, str(path))


def _table(path: Path, data: Mapping[str, object], name: str) -> dict[str, str]:
    table = data.get(name, {})
    if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
        raise UsageError(f'{path}: [{name}] must map names to strings ("Header" = "field")')
    return dict(table)


def normalize_header(header: str, abbreviations: Mapping[str, str]) -> str:
    """Case, spacing and punctuation removed, camelCase split, abbreviations spelled out, so
    "Pt. Name", "PATIENT_NAME" and "patientName" all read "patient name"."""
    text = re.sub(r"(?<=[a-z])(?=[A-Z][a-z])", " ", header.strip())
    text = text.lower().replace("#", " number ").replace("e-mail", "email")
    text = re.sub(r"\b([a-z]+)[-\s](\d+)\b", r"\1\2", text)  # ICD-10 -> icd10
    text = re.sub(r"\b([a-z])\.(?=[a-z]\.)", r"\1", text)  # D.O.B. -> dob.
    words = re.findall(r"[a-z0-9]+", text)
    spelled = " ".join(abbreviations.get(word, word) for word in words)
    return " ".join(spelled.split())


@cache
def packaged_mappings() -> Mappings:
    text = resources.files("services").joinpath(PACKAGED_MAPPINGS).read_text(encoding="utf-8")
    return parse_mappings(tomllib.loads(text))


def parse_mappings(data: Mapping[str, object]) -> Mappings:
    abbreviations = {str(k): str(v) for k, v in dict(data.get("abbreviations", {})).items()}  # type: ignore[call-overload]
    headers: dict[str, str] = {}
    for name, aliases in dict(data.get("fields", {})).items():  # type: ignore[call-overload]
        if name not in FIELDS:
            raise ValueError(f"mappings: {name!r} is no field")
        for alias in aliases:
            headers[normalize_header(str(alias), abbreviations)] = str(name)
    return Mappings(abbreviations, headers)


def mappings_for(overrides_dir: Path | None, sheet_number: int) -> Mappings:
    base = packaged_mappings()
    if overrides_dir is None:
        return base
    return base.with_overrides(overrides_dir / f"sheet-{sheet_number:03d}.toml")


# tabs --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TabShape:
    """One target tab: its header row and what each column is filled with."""

    tab: str
    data_range: str  # A1, the first data row and the columns: "Patients!A2:F"
    headers: tuple[str, ...]
    fields: tuple[str | None, ...]  # None: nothing maps it; SKIP: left empty on purpose

    @property
    def entity(self) -> Entity:
        kinds = {FIELDS[f] for f in self.fields if f in FIELDS and f != "visit_status"}
        if Entity.VISIT in kinds:
            return Entity.VISIT
        if kinds == {Entity.PROVIDER}:
            return Entity.PROVIDER
        return Entity.PATIENT

    @property
    def unmapped(self) -> list[str]:
        return [h for h, f in zip(self.headers, self.fields, strict=True) if f is None and h]

    @property
    def id_column(self) -> int | None:
        """The column that carries each row's synthetic id: an id field, else a notes
        column (which then starts with the id)."""
        carriers = ("record_id", "notes") if self.entity is Entity.PROVIDER else ID_FIELDS
        for wanted in (*carriers, "notes"):
            if wanted in self.fields:
                return self.fields.index(wanted)
        return None

    def problem(self) -> str:
        if not any(f in FIELDS for f in self.fields):
            return f"tab {self.tab}: no header maps to a field ({', '.join(self.headers)})"
        if self.id_column is None:
            return (
                f"tab {self.tab}: no column can carry each row's synthetic id (an MRN, ID or "
                "Notes column); map one in the sheet's test-data override"
            )
        return ""


def shape(tab: str, data_range: str, headers: Sequence[str], mappings: Mappings) -> TabShape:
    width = _range_width(data_range, len(headers))
    cells = [str(h).strip() for h in headers][:width]
    cells += [""] * (width - len(cells))
    return TabShape(
        tab, data_range, tuple(cells), tuple(mappings.field_for(h) if h else SKIP for h in cells)
    )


def _range_width(data_range: str, header_width: int) -> int:
    """The data range's columns; one without a last column (`Tab!A2`) is as wide as its
    header row."""
    cells = a1.parse(data_range)
    if ":" not in data_range.rpartition("!")[2] or cells.last_col is None:
        return header_width
    return cells.last_col - cells.first_col + 1


def rows_for(tab: TabShape, population: Population) -> list[list[Cell]]:
    """One row per record of the tab's kind, lined up with its headers."""
    fields = [f if f in FIELDS else None for f in tab.fields]
    rows: list[list[Cell]] = []
    for record in population.records(tab.entity):
        rows.append([value_of(f, record, population.as_of) if f else "" for f in fields])
    return rows


def row_count(tab: TabShape, patients: int) -> int:
    """How many rows the tab gets for `patients` patients (checked before anything is drawn)."""
    if tab.entity is Entity.VISIT:
        return patients * VISITS_PER_PATIENT
    if tab.entity is Entity.PROVIDER:
        return provider_count(patients)
    return patients


def provider_count(patients: int) -> int:
    return min(30, max(3, patients // 40))


# local fixtures ------------------------------------------------------------------------------


def as_csv(tab: TabShape, rows: Iterable[Sequence[Cell]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(tab.headers)
    writer.writerows(rows)
    return out.getvalue()


def as_json(tab: TabShape, rows: Iterable[Sequence[Cell]]) -> str:
    """One object per row keyed by header, one per line; every object holds the row's
    synthetic id."""
    records = (
        json.dumps({h: v for h, v in zip(tab.headers, row, strict=True) if h}, ensure_ascii=False)
        for row in rows
    )
    body = ",\n".join(records)
    return f'{{"tab": {json.dumps(tab.tab, ensure_ascii=False)}, "records": [\n{body}\n]}}\n'


def fixture_names(sheet_number: int, tab: str) -> tuple[str, str]:
    stem = f"sheet-{sheet_number:03d}-{re.sub(r'[^A-Za-z0-9]+', '-', tab).strip('-').lower()}"
    return f"{stem}.csv", f"{stem}.json"
