"""``DateSent`` filters parse every format Twilio's docs write them in."""

from __future__ import annotations

import datetime as dt
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from norq_sandbox.twilio_resources import TwilioError, parse_date_filter

instants = st.datetimes(
    min_value=dt.datetime(1970, 1, 2),
    max_value=dt.datetime(9998, 12, 30),
    timezones=st.just(dt.UTC),
).map(lambda moment: moment.replace(microsecond=0))


@given(instants)
def test_iso_8601_with_z_is_that_instant(moment: dt.datetime) -> None:
    assert parse_date_filter(moment.strftime("%Y-%m-%dT%H:%M:%SZ"), "DateSent") == moment


@given(instants)
def test_rfc_2822_is_that_instant(moment: dt.datetime) -> None:
    assert parse_date_filter(format_datetime(moment), "DateSent>") == moment


@given(instants, st.sampled_from([("MST", -7), ("PDT", -7), ("EST", -5), ("GMT", 0)]))
def test_us_dates_with_a_zone_are_that_instant(moment: dt.datetime, zone: tuple[str, int]) -> None:
    name, hours = zone
    local = moment.astimezone(dt.timezone(dt.timedelta(hours=hours)))
    written = local.strftime("%m/%d/%Y %H:%M:%S ") + name

    assert parse_date_filter(written, "DateSent<") == moment


@given(st.dates(min_value=dt.date(1, 1, 1)))
def test_a_plain_day_is_a_day(day: dt.date) -> None:
    assert parse_date_filter(day.isoformat(), "DateSent") == day


def test_twilios_own_examples() -> None:
    assert parse_date_filter("Wed, 19 Jun 2019 22:04:00 -0000", "DateSent>") == dt.datetime(
        2019, 6, 19, 22, 4, tzinfo=dt.UTC
    )
    assert parse_date_filter("06/11/2019 22:05:25 MST", "DateSent<") == dt.datetime(
        2019, 6, 12, 5, 5, 25, tzinfo=dt.UTC
    )


@given(st.text(max_size=40))
def test_anything_else_is_a_twilio_error_or_a_date(text: str) -> None:
    failure: TwilioError | None = None
    try:
        parsed = parse_date_filter(text, "DateSent")
    except TwilioError as error:
        failure = error
    if failure is None:
        assert isinstance(parsed, dt.date)
    else:
        assert (failure.status, failure.code) == (400, 20001)
        assert "DateSent" in failure.message


@pytest.mark.parametrize("written", ["", "2019-02-30", "13/01/2019 10:00:00 MST", "Wed, 99 Jun"])
def test_malformed_dates_are_refused(written: str) -> None:
    with pytest.raises(TwilioError):
        parse_date_filter(written, "DateSent")
