"""Message texts in Japanese and English. Plain and short; never a password, never a login link.

Two families: security *codes* (`_TEXTS` below: verify_email, login_code[_sms], phone_code_sms)
and security *notices* (`notice_<kind>` and, for the kinds worth an SMS, `notice_<kind>_sms`;
texts in `notice_texts.py`, issued by `flows/notices.notify`). A notice's message kind is its
notice kind (`password_changed`, `password_changed_sms`): the `notice_` prefix only names the
family here.
"""

from __future__ import annotations

from mamori.models import Message
from mamori.notify.notice_texts import (
    MODE_LABELS,
    NOTICE_KINDS,
    SMS_KINDS,
    NoticeText,
    email_template,
    notice_text,
    sms_template,
)

__all__ = [
    "NOTICE_KINDS",
    "SMS_KINDS",
    "NoticeText",
    "notice_text",
    "notice_title",
    "render",
    "render_notice_text",
]

NOTICE_PREFIX = "notice_"
MAX_PARAM_CHARS = 200

_TEXTS: dict[str, dict[str, tuple[str, str]]] = {
    # kind -> language -> (subject, body template)
    "verify_email": {
        "ja": (
            "【Mamori】メールアドレスの確認コード",
            "{login_id} 様\n\nメールアドレス確認用のコードは {code} です。"
            "有効期限は{minutes}分です。\n\n"
            "このコードを他人に教えないでください。当社の担当者がコードを尋ねることはありません。\n"
            "お心当たりのない場合は、このメールを破棄してください。",
        ),
        "en": (
            "[Mamori] Your email verification code",
            "Hello {login_id},\n\nYour email verification code is {code}. "
            "It is valid for {minutes} minutes.\n\n"
            "Never share this code. We will never ask you for it.\n"
            "If you did not sign up, you can ignore this message.",
        ),
    },
    "login_code": {
        "ja": (
            "【Mamori】ログイン確認コード",
            "{login_id} 様\n\nログイン確認コードは {code} です。有効期限は{minutes}分です。\n\n"
            "ログインの試み: {time}、{browser}（{os}）、{location}\n\n"
            "このコードを誰にも教えないでください。当社がコードを尋ねることはありません。\n"
            "ご自身でログインしようとしていない場合、第三者があなたのパスワードを知っています。"
            "コードは入力せず、すぐにパスワードを変更してください。"
            "同じパスワードを使っている他のサービスのパスワードも変更してください。",
        ),
        "en": (
            "[Mamori] Your login code",
            "Hello {login_id},\n\nYour login code is {code}. It is valid for {minutes} minutes."
            "\n\nLogin attempt: {time}, {browser} ({os}), {location}\n\n"
            "Never share this code. We will never ask you for it.\n"
            "If you did not just try to log in, someone else knows your password. Do not enter "
            "the code; change your password now, and on every other service where you use it.",
        ),
    },
    "login_code_sms": {
        "ja": (
            "",
            "Mamori: ログイン確認コード {code}（{minutes}分有効）。誰にも教えないでください。"
            "ログインしていない場合はパスワードが知られています。すぐに変更してください。",
        ),
        "en": (
            "",
            "Mamori: your login code is {code} (valid {minutes} min). Never share it. "
            "Not you? Someone knows your password: change it now.",
        ),
    },
    "phone_code_sms": {
        "ja": (
            "",
            "Mamori: 電話番号の確認コード {code}（{minutes}分有効）。誰にも教えないでください。",
        ),
        "en": (
            "",
            "Mamori: your phone verification code is {code} (valid {minutes} min). Never share it.",
        ),
    },
    # ---- password reset (flows/reset.py): the code and the ONE allowed link, which opens the
    # reset form and never logs anyone in ----
    "password_reset_code": {
        "ja": (
            "【Mamori】パスワード再設定の確認コード",
            "{login_id} 様\n\nパスワード再設定の確認コードは {code} です。"
            "有効期限は{minutes}分です。\n"
            "次のリンクからも再設定を続けられます（1回だけ使えます。このリンクでログインすることは"
            "ありません）:\n{link}\n\n"
            "受付: {time}、{browser}（{os}）、{location}（{ip}）\n\n"
            "このコードを誰にも教えないでください。当社がコードやパスワードを尋ねることは"
            "ありません。\n"
            "ご自身で再設定を申し込んでいない場合は、このメールを破棄してください。"
            "パスワードは変更されていません。2段階認証を設定していれば、メールだけで"
            "再設定されることはありません。",
        ),
        "en": (
            "[Mamori] Your password reset code",
            "Hello {login_id},\n\nYour password reset code is {code}. "
            "It is valid for {minutes} minutes.\n"
            "You can also continue at this link (it works once and never logs you in):\n"
            "{link}\n\n"
            "Requested: {time}, {browser} ({os}), {location} ({ip})\n\n"
            "Never share this code. We will never ask you for it or for your password.\n"
            "If you did not ask to reset your password, ignore this message: your password "
            "has not changed, and with two-step verification on, email alone cannot reset it.",
        ),
    },
    "password_reset_code_sms": {
        "ja": (
            "",
            "Mamori: パスワード再設定の確認コード {code}（{minutes}分有効）。"
            "誰にも教えないでください。",
        ),
        "en": (
            "",
            "Mamori: your password reset code is {code} (valid {minutes} min). Never share it.",
        ),
    },
    # ---- email address change (flows/email_change.py): the code goes to the NEW address ----
    "change_email_code": {
        "ja": (
            "【Mamori】メールアドレス変更の確認コード",
            "{login_id} 様\n\nメールアドレスをこのアドレスに変更するための確認コードは {code} "
            "です。有効期限は{minutes}分です。\n"
            "コードを入力するまで、メールアドレスは変更されません。\n\n"
            "このコードを誰にも教えないでください。当社がコードやパスワードを尋ねることは"
            "ありません。\n"
            "お心当たりのない場合は、このメールを破棄してください。",
        ),
        "en": (
            "[Mamori] Your code to change your email address",
            "Hello {login_id},\n\nYour code to change your account's email address to this "
            "one is {code}. It is valid for {minutes} minutes.\n"
            "The address does not change until the code is entered.\n\n"
            "Never share this code. We will never ask you for it or for your password.\n"
            "If you did not ask for this, ignore this message.",
        ),
    },
}


class _Params(dict[str, str]):
    """Notice parameters: a missing one renders as "?" (a notice must never fail to go out
    because a caller left out a detail)."""

    def __missing__(self, key: str) -> str:
        return "?"


def _notice_params(language: str, params: dict[str, object]) -> _Params:
    values = _Params({k: str(v)[:MAX_PARAM_CHARS] for k, v in params.items()})
    mode = values.get("mode")
    if mode is not None:
        labels = MODE_LABELS["ja" if language == "ja" else "en"]
        values["mode_label"] = labels.get(mode, mode)
    return values


def notice_title(kind: str, language: str) -> str:
    """A notice kind's title (its subject without the brand), for the inbox and verify page."""
    return notice_text(kind, language).title


def render_notice_text(kind: str, language: str, params: dict[str, object]) -> tuple[str, str]:
    """(summary, advice) of a stored notice, for the inbox (no link, no code)."""
    text = notice_text(kind, language)
    values = _notice_params(language, params)
    return text.summary.format_map(values), text.advice.format_map(values)


def _render_notice(
    name: str,
    *,
    language: str,
    channel: str,
    to: str,
    account_id: int | None,
    params: dict[str, object],
) -> Message:
    values = _notice_params(language, params)
    if channel == "sms" or name.endswith("_sms"):  # never a link in an SMS
        subject, body = "", sms_template(name.removesuffix("_sms"), language)
    else:
        subject, body = email_template(name, language, with_link=bool(params.get("not_me_url")))
    return Message(
        channel=channel,
        to=to,
        subject=subject,
        body=body.format_map(values),
        kind=name,
        account_id=account_id,
    )


def render(
    kind: str, *, language: str, channel: str, to: str, account_id: int | None, **params: object
) -> Message:
    if kind.startswith(NOTICE_PREFIX):
        return _render_notice(
            kind.removeprefix(NOTICE_PREFIX),
            language=language,
            channel=channel,
            to=to,
            account_id=account_id,
            params=params,
        )
    texts = _TEXTS[kind]
    subject, body = texts.get(language) or texts["en"]
    return Message(
        channel=channel,
        to=to,
        subject=subject,
        body=body.format(**params),
        kind=kind,
        account_id=account_id,
    )
