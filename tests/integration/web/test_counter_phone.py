"""The counter's pages confirm a caller's phone as the API does: the code sent to it, typed back as the caller reads
it out, a wrong one said beside the code with what was typed kept, in Vietnamese or English."""

from __future__ import annotations

import asyncpg
import httpx

from tests.factories import make_staff, person_details
from tests.integration.booking.phone_codes import phone_code
from tests.integration.web.test_pages import csrf_of, once_of
from vaxbook.auth.models import Role
from vaxbook.db import UnitOfWork
from web.text import WORDS


async def test_the_operator_sends_the_code_and_types_back_what_the_caller_reads(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    operator = await make_staff(uow, Role.OPERATOR)
    form = await client.get("/staff/signin")
    await client.post(
        "/staff/signin",
        data={"username": operator, "password": "correct horse battery staple", "_csrf_token": csrf_of(form)},
    )
    form = await client.get("/counter/register")
    assert WORDS["phone_code_help"].vi in form.text
    caller = person_details(full_name="Võ Thị Em") | {"consent": "yes", "phone": "0906 777 888"}
    registered = await client.post(
        "/counter/register", data=caller | {"once": once_of(form), "_csrf_token": csrf_of(form)}
    )
    assert registered.status_code == 303
    person_page = registered.headers["location"].split("#")[0]
    person_id = person_page.rsplit("/", 1)[1]
    shown = await client.get(person_page)
    assert "0906 777 888" in shown.text, "the number read back to the caller"
    assert f'action="/counter/people/{person_id}/phone/confirmation"' in shown.text
    # sending a code is no undoing: its button is outlined as "move" is, not red as a cancel
    assert f'<button type="submit" class="secondary-button">{WORDS["phone_send"].vi}</button>' in shown.text
    assert await db.fetchval("SELECT account_id FROM people WHERE id = $1", person_id) is None

    # misheard: the number corrected, a code sent there
    resent = await client.post(f"{person_page}/phone", data={"phone": "0906777889", "_csrf_token": csrf_of(shown)})
    assert resent.status_code == 303
    shown = await client.get(person_page)
    assert "0906 777 889" in shown.text
    right = await phone_code(db, "+84906777889")
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    refused = await client.post(
        f"{person_page}/phone/confirmation", data={"code": wrong, "_csrf_token": csrf_of(shown)}
    )
    assert refused.status_code == 200
    assert 'id="code-error"' in refused.text
    assert "còn 4 lần thử" in refused.text
    assert f'value="{wrong}"' in refused.text, "what was typed stays"
    client.cookies.set("lang", "en")
    english = await client.post(
        f"{person_page}/phone/confirmation", data={"code": wrong, "_csrf_token": csrf_of(shown)}
    )
    assert "3 tries left" in english.text
    bad_phone = await client.post(f"{person_page}/phone", data={"phone": "12345", "_csrf_token": csrf_of(shown)})
    assert 'id="phone-error"' in bad_phone.text
    assert 'value="12345"' in bad_phone.text
    client.cookies.set("lang", "vi")
    confirmed = await client.post(
        f"{person_page}/phone/confirmation", data={"code": f"{right[:3]} {right[3:]}", "_csrf_token": csrf_of(shown)}
    )
    assert confirmed.status_code == 303
    after = await client.get(confirmed.headers["location"])
    assert WORDS["done_phone_confirmed"].vi in after.text
    assert f'action="/counter/people/{person_id}/phone"' not in after.text, "a phone of their own now"
    assert await db.fetchval("SELECT account_id FROM people WHERE id = $1", person_id) is not None
