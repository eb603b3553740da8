"""Email chosen for messages with no email given: the profile page says so under the email field, marks it and
puts the cursor there, as it does for any field of its own, not in the channel's box above."""

from __future__ import annotations

import re

import httpx

from tests.conftest import RecordingOtpSender
from tests.factories import person_details
from tests.integration.web.test_pages import csrf_of, signed_in_citizen
from web.text import WORDS


async def test_email_chosen_without_one_is_said_on_the_email_field(
    client: httpx.AsyncClient, otp_sender: RecordingOtpSender
) -> None:
    await signed_in_citizen(client, otp_sender, "0912 345 556")
    form = await client.get("/me/profile")
    typed = person_details() | {"notify_by": "email", "language": "vi", "consent": "yes", "email": "  "}
    refused = await client.post("/me/profile", data=typed | {"_csrf_token": csrf_of(form)})
    assert refused.status_code == 200
    email = re.search(r'<input id="email"[^>]*>', refused.text, re.S)
    assert email is not None
    assert 'aria-invalid="true"' in email.group(0)
    assert "autofocus" in email.group(0)
    assert 'aria-describedby="email-error' in email.group(0)
    assert re.search(r'<p class="error" id="email-error">Cần địa chỉ email để nhận tin qua email</p>', refused.text)
    channels = refused.text.split(f"<legend>{WORDS['notify_by'].vi}</legend>", 1)[1].split("</fieldset>", 1)[0]
    assert "Cần địa chỉ email" not in channels, "not in the channel's box"
    assert re.search(r'value="email" checked', refused.text), "the channel chosen is kept"
