"""The synthetic population and the header matching, without Google: every value provably
synthetic, relations kept, the same bytes from the same seed on any day, in any process."""

from __future__ import annotations

import datetime
import hashlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from services import testdata
from services.emulator.seed import APPOINTMENT_HEADER, PATIENT_TABS
from services.errors import UsageError
from services.phi import never_issued_ssn, reserved_email_domain, synthetic_phone
from services.reference import ReferenceSet
from services.testdata import FIELDS, Entity, TabShape, packaged_mappings

AS_OF = datetime.date(2026, 1, 1)
REPOSITORY = Path(__file__).resolve().parents[1]
PATIENT_FIELDS = tuple(f for f, e in FIELDS.items() if e is not Entity.VISIT)
VISIT_FIELDS = tuple(FIELDS)


def every_field(entity_fields: tuple[str, ...], name: str) -> TabShape:
    return TabShape(name, f"{name}!A2", entity_fields, entity_fields)


def test_every_value_is_synthetic_by_the_phi_rules_and_every_record_has_its_id() -> None:
    population = testdata.generate(500, testdata.sheet_seed(3, 7), AS_OF)
    for patient in population.patients:
        area, group, serial = patient.ssn.split("-")
        assert never_issued_ssn(area, group, serial)
        digits = "".join(c for c in patient.phone if c.isdigit())
        assert synthetic_phone(digits) and digits[3:] != "5550100", patient.phone
        assert reserved_email_domain(patient.email.split("@")[1])
        for identifier in (patient.mrn, patient.member_id, patient.group_number):
            assert identifier.startswith("SYN-")
    for tab in (every_field(PATIENT_FIELDS, "P"), every_field(VISIT_FIELDS, "V")):
        carrier = tab.id_column
        assert carrier is not None
        for row in testdata.rows_for(tab, population):
            assert str(row[carrier]).startswith("SYN-")
    for provider in population.providers:
        assert testdata.valid_npi(provider.npi) and provider.id.startswith("SYN-")


def test_relations_hold_age_on_the_as_of_date_visits_of_existing_people() -> None:
    population = testdata.generate(300, testdata.sheet_seed(0, 1), AS_OF)
    patients = {p.mrn: p for p in population.patients}
    providers = {p.id: p for p in population.providers}
    assert len(population.visits) == 600
    for patient in population.patients:
        age = testdata.value_of("age", patient, AS_OF)
        born = datetime.datetime.strptime(str(testdata.value_of("dob", patient, AS_OF)), "%m/%d/%Y")
        had_birthday = (AS_OF.month, AS_OF.day) >= (born.month, born.day)
        assert age == AS_OF.year - born.year - (0 if had_birthday else 1)
        assert 0 <= int(age) <= 95 and patient.provider.id in providers
    for visit in population.visits:
        assert patients[visit.patient.mrn] is visit.patient
        assert providers[visit.provider.id] is visit.provider
        assert (visit.status == "Scheduled") == (visit.day >= AS_OF)
        assert visit.reason[1] in {code for _, code, _ in (*testdata.REASONS, testdata.WELL_CHILD)}
        assert 90 <= visit.systolic <= 152 and visit.diastolic < visit.systolic


def test_npi_check_digit_is_the_luhn_digit_with_the_80840_prefix() -> None:
    # CMS's published example: 123456789 -> check digit 3
    assert testdata.npi_check_digit("123456789") == "3"
    assert testdata.valid_npi("1234567893") and not testdata.valid_npi("1234567894")


_GENERATE = """
import datetime, hashlib
from services import testdata
from services.config import TestDataConfig
population = testdata.generate(200, testdata.sheet_seed(42, 12), TestDataConfig().as_of)
fields = tuple(testdata.FIELDS)
tab = testdata.TabShape("V", "V!A2", fields, fields)
text = testdata.as_csv(tab, testdata.rows_for(tab, population))
digest = hashlib.sha256(text.encode()).hexdigest()
print(digest, datetime.date.today(), datetime.datetime.now().date())
"""

# the clock a day later, for time.time(), date.today() (which reads it) and datetime.now()
_A_DAY_LATER = """
import datetime, time
_real_time, _RealDateTime = time.time, datetime.datetime
time.time = lambda: _real_time() + 86400
class _Later(datetime.datetime):
    @classmethod
    def now(cls, tz=None):
        return _RealDateTime.now(tz) + datetime.timedelta(days=1)
datetime.datetime = _Later
"""


def _digest_in_a_new_process(prelude: str = "") -> str:
    script = textwrap.dedent(prelude) + textwrap.dedent(_GENERATE)
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "random", "PATH": "/usr/bin:/bin"},
    )
    return done.stdout.strip()


def test_the_same_seed_gives_the_same_bytes_in_two_processes_and_a_day_later() -> None:
    here = testdata.generate(200, testdata.sheet_seed(42, 12), AS_OF)
    tab = testdata.TabShape("V", "V!A2", VISIT_FIELDS, VISIT_FIELDS)
    local = hashlib.sha256(testdata.as_csv(tab, testdata.rows_for(tab, here)).encode())
    (first, today, now), (second, tomorrow, later) = (
        _digest_in_a_new_process().split(),
        _digest_in_a_new_process(_A_DAY_LATER).split(),
    )
    assert first == second == local.hexdigest()
    day = datetime.timedelta(days=1)
    assert datetime.date.fromisoformat(tomorrow) - datetime.date.fromisoformat(today) == day
    assert datetime.date.fromisoformat(later) - datetime.date.fromisoformat(now) == day
    other_seed = testdata.generate(200, testdata.sheet_seed(43, 12), AS_OF)
    assert testdata.as_csv(tab, testdata.rows_for(tab, other_seed)) != testdata.as_csv(
        tab, testdata.rows_for(tab, here)
    )


def test_a_person_matching_the_production_reference_is_drawn_again() -> None:
    seed = testdata.sheet_seed(0, 5)
    plain = testdata.generate(50, seed, AS_OF)
    first, second = plain.patients[0], plain.patients[1]
    reference = ReferenceSet(b"k" * 32)
    reference.digests.add(reference.digest("phone", first.phone))  # a production phone
    reference.digests.add(reference.birth_digest(second.dob.isoformat(), second.last.lower()))
    again = testdata.generate(50, seed, AS_OF, reference)
    assert again.redraws >= 2
    assert all(p.phone != first.phone for p in again.patients)
    assert all((p.dob, p.last) != (second.dob, second.last) for p in again.patients)


def test_a_date_of_birth_is_found_with_its_surname_from_either_cache_version(
    tmp_path: Path,
) -> None:
    """The date-of-birth index only skips dates no production patient was born on; a cache
    written before it (version 1, no index) still finds every pair."""
    reference = ReferenceSet(b"k" * 32)
    reference.add_table(["Name", "DOB"], [["Lena Oakridge", "03/14/1961"]])
    words = {"lena", "oakridge", "visit"}
    assert len(reference.dob_digests("1961-03-14", words)) == 1
    assert reference.dob_digests("1961-03-15", words) == []
    assert reference.dob_digests("1961-03-14", {"visit"}) == []
    path = tmp_path / "reference.json"
    reference.save(path, sheets=1)
    assert len(ReferenceSet.load(path, b"k" * 32).dob_digests("1961-03-14", words)) == 1
    dob_only = {reference.digest("dob", "1961-03-14|oakridge")}  # what version 1 stored
    path.write_text(json.dumps({"version": 1, "sheets": 1, "digests": sorted(dob_only)}))
    old = ReferenceSet.load(path, b"k" * 32)
    assert not old.dates_indexed and len(old.dob_digests("1961-03-14", words)) == 1


def test_a_reference_nothing_can_avoid_stops_with_one_clear_line() -> None:
    reference = ReferenceSet(b"k" * 32)
    for area in testdata.AREA_CODES:
        for line in range(1, 100):
            reference.digests.add(reference.digest("phone", f"({area}) 555-01{line:02d}"))
    with pytest.raises(UsageError, match="could not draw a person unlike every production"):
        testdata.generate(3, 1, AS_OF, reference)


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("DOB", "dob"),
        ("D.O.B.", "dob"),
        ("Date of Birth", "dob"),
        ("dateOfBirth", "dob"),
        ("Pt Name", "full_name"),
        ("PATIENT_NAME", "full_name"),
        ("Ins ID", "member_id"),
        ("insuranceId", "member_id"),
        ("Chart #", "mrn"),
        ("Medical Record #", "mrn"),
        ("Phone #", "phone"),
        ("Cell", "phone"),
        ("E-mail", "email"),
        ("  last   NAME ", "last_name"),
        ("Group #", "group_number"),
        ("Appt Date", "visit_date"),
        ("ICD-10", "icd10"),
        ("BP", "blood_pressure"),
        ("SpO2", "oxygen_saturation"),
        ("PCP", "provider_name"),
    ],
)
def test_header_matching_forgives_case_spacing_and_abbreviations(header: str, field: str) -> None:
    assert packaged_mappings().field_for(header) == field


def test_every_demo_header_is_mapped_or_reported() -> None:
    mappings = packaged_mappings()
    reported = set()
    for headers in (*(t.headers for t in PATIENT_TABS), APPOINTMENT_HEADER):
        shape = testdata.shape("T", "T!A2", headers, mappings)
        reported |= set(shape.unmapped)
        assert not shape.problem(), shape.problem()
        for header, field in zip(shape.headers, shape.fields, strict=True):
            assert field in FIELDS or header in shape.unmapped
    assert reported == {"Preferred Pharmacy", "Last Visit"}  # nothing maps these two


def test_overrides_map_skip_and_add_tabs_and_refuse_nonsense(tmp_path: Path) -> None:
    override = tmp_path / "sheet-007.toml"
    override.write_text(
        '[headers]\n"Pref. Pharmacy" = "skip"\n"Pt Ref" = "record_id"\n[tabs]\nVisits = "A3:K"\n'
    )
    mappings = testdata.mappings_for(tmp_path, 7)
    assert mappings.field_for("Pref Pharmacy") == testdata.SKIP
    assert mappings.field_for("pt ref") == "record_id" and mappings.tabs == {"Visits": "A3:K"}
    assert testdata.mappings_for(tmp_path, 8) is packaged_mappings()
    for bad, complaint in (
        ('[headers]\n"X" = "favourite_colour"\n', "is no field"),
        ('[tabs]\nVisits = "all of it"\n', "is not a data range"),
        ("[headers\n", "not valid TOML"),
        ("[colours]\n", "unknown table"),
    ):
        override.write_text(bad)
        with pytest.raises(UsageError, match=complaint):
            testdata.mappings_for(tmp_path, 7)


def test_a_tab_without_a_column_for_the_synthetic_id_is_refused() -> None:
    shape = testdata.shape("T", "T!A2:C", ["Name", "DOB", "Phone"], packaged_mappings())
    assert "synthetic id" in shape.problem()
    with_notes = testdata.shape(
        "T", "T!A2:D", ["Name", "DOB", "Phone", "Notes"], packaged_mappings()
    )
    assert not with_notes.problem()
    population = testdata.generate(5, 1, AS_OF)
    assert all(str(r[3]).startswith("SYN-") for r in testdata.rows_for(with_notes, population))


def test_a_member_id_cannot_carry_the_rows_id_self_pay_patients_have_none() -> None:
    headers = ["Name", "DOB", "Phone", "Address", "Ins ID"]
    assert "synthetic id" in testdata.shape("T", "T!A2:E", headers, packaged_mappings()).problem()
    shape = testdata.shape("T", "T!A2:F", [*headers, "Notes"], packaged_mappings())
    population = testdata.generate(200, 3, AS_OF)
    assert any(p.payer == "Self-pay" for p in population.patients)
    assert all(str(r[5]).startswith("SYN-") for r in testdata.rows_for(shape, population))


def test_the_packaged_mappings_are_the_test_data_folders() -> None:
    packaged = REPOSITORY / "services" / "testdata_mappings.toml"
    assert packaged.read_bytes() == (REPOSITORY / "test-data" / "mappings.toml").read_bytes()
