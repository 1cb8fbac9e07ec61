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
            "Mamori: your phone verification code is {code} (valid {minutes} min). "
            "Never share it.",
        ),
    },
    "totp_replay": {
        "ja": (
            "【Mamori】認証アプリのコードが再利用されました",
            "{login_id} 様\n\n{time} に、すでに使用済みの認証アプリのコードでログインしようとする"
            "試みがありました（{browser}（{os}）、{location}）。\n"
            "このコードは受け付けていません。ご自身の操作でない場合、第三者があなたのパスワードと"
            "認証コードを盗み見ている可能性があります。すぐにパスワードを変更し、"
            "セキュリティ設定でログイン中の端末を確認してください。",
        ),
        "en": (
            "[Mamori] An authenticator code was used twice",
            "Hello {login_id},\n\nAt {time}, someone tried to log in with an authenticator "
            "code that had already been used ({browser} ({os}), {location}).\n"
            "The code was refused. If this was not you, someone may have your password and "
            "watched your codes: change your password now and review your devices in the "
            "security settings.",
        ),
    },
    # ---- notices (flows/notices.py): each ends with the notice code; never a login link ----
    "notice_new_device_login": {
        "ja": (
            "【Mamori】新しい端末からログインがありました",
            "{login_id} 様\n\nお使いのアカウントに、新しい端末からログインがありました。\n\n"
            "日時: {time}\n端末: {browser}（{os}）\nおおよその場所: {location}\n"
            "ネットワーク: {network}\nIPアドレス: {ip}\n\n"
            "ご自身のログインであれば、対応は不要です。\n"
            "心当たりがない場合は、次のリンクを開いて「自分ではない」を押してください"
            "（ログインやパスワードの入力は求めません。その端末をログアウトさせ、"
            "次回ログイン時にパスワードの再設定と本人確認を必須にします）:\n{not_me_url}\n\n"
            "通知番号: {notice_code}\n"
            "この通知が本物かどうかは {verify_url} で通知番号を入力して確認できます。"
            "当社がメールでパスワードを尋ねることはありません。",
        ),
        "en": (
            "[Mamori] New sign-in to your account",
            "Hello {login_id},\n\nYour account was just signed in to from a new device.\n\n"
            "Time: {time}\nDevice: {browser} ({os})\nApproximate location: {location}\n"
            "Network: {network}\nIP address: {ip}\n\n"
            "If this was you, there is nothing to do.\n"
            "If it was not, open this link and press \"This wasn't me\" (it never asks you to "
            "log in or for your password; it signs that device out and makes the next login "
            "reset the password and pass the second step):\n{not_me_url}\n\n"
            "Notice code: {notice_code}\n"
            "To check that this notice is genuine, enter its code at {verify_url}. "
            "We never ask for your password by email.",
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
