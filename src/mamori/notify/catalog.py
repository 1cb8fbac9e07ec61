"""Message texts in Japanese and English. Plain and short; never a password, never a login link."""

from __future__ import annotations

from mamori.models import Message

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
    "password_changed": {
        "ja": (
            "【Mamori】パスワードが変更されました",
            "{login_id} 様\n\n{time} にアカウントのパスワードが変更されました。\n"
            "お心当たりのない場合は、すぐにパスワードの再設定を行い、"
            "同じパスワードを使っている他のサービスのパスワードも変更してください。",
        ),
        "en": (
            "[Mamori] Your password was changed",
            "Hello {login_id},\n\nThe password of your account was changed at {time}.\n"
            "If this was not you, reset your password now, and change it on every other "
            "service where you use the same password.",
        ),
    },
}


def render(
    kind: str, *, language: str, channel: str, to: str, account_id: int | None, **params: object
) -> Message:
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
