"""The texts of security notices, in Japanese and English (rendered by `catalog.render`).

A notice says what happened and what to do, plainly and briefly. The email body is assembled
from the parts below: greeting, summary, the request's facts (when `details`), advice, the
"this wasn't me" link (only when the notice has one), the notice code and where to check it.

Rules every text here keeps (tests check them): no password, no code that logs in, no link
except the "this wasn't me" link and the verify-notice address, and never a request to enter a
password. Advice sends the owner to log in *as usual* (their bookmark, not a link in a mail).
SMS texts carry no link at all.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class NoticeText:
    title: str  # the subject (after the brand) and the inbox title
    summary: str  # what happened
    advice: str  # what to do about it
    details: bool = True  # list the request's time, device, place, network and IP


# The parameters a text may use: login_id, time, browser, os, location, network, ip,
# notice_code, verify_url, not_me_url, plus the kind's own (reported_time, phone, mode_label,
# remaining, minutes). A missing one renders as "?" rather than failing the notice.

_NOTICES: dict[str, dict[str, NoticeText]] = {
    "new_device_login": {
        "ja": NoticeText(
            "新しい端末からログインがありました",
            "お使いのアカウントに、新しい端末からログインがありました。",
            "ご自身のログインであれば、対応は不要です。",
        ),
        "en": NoticeText(
            "New sign-in to your account",
            "Your account was just signed in to from a new device.",
            "If this was you, there is nothing to do.",
        ),
    },
    "new_location_login": {
        "ja": NoticeText(
            "いつもと違う場所からログインがありました",
            "お使いのアカウントに、これまでと違う国・地域からログインがありました。",
            "ご自身のログインであれば、対応は不要です。",
        ),
        "en": NoticeText(
            "Sign-in from a new location",
            "Your account was just signed in to from a country or region you have not used before.",
            "If this was you, there is nothing to do.",
        ),
    },
    "not_me_done": {
        "ja": NoticeText(
            "「自分ではない」とのご報告を受け付けました",
            "{reported_time} のログインについて「自分ではない」とのご報告を受け付け、"
            "次の対応を行いました。\n"
            "・その端末をログアウトさせ、信頼済みの設定を解除しました\n"
            "・次回のログインでは、本人確認（2段階認証）のあと、新しいパスワードの設定が"
            "必要です",
            "同じパスワードをほかのサービスでも使っている場合は、そちらも変更してください。",
            details=False,
        ),
        "en": NoticeText(
            'We received your "this wasn\'t me" report',
            "You told us the sign-in at {reported_time} was not you. We have:\n"
            "- signed that device out and stopped trusting it;\n"
            "- made your next login ask for the second step and then for a new password.",
            "If you use the same password on other services, change it there too.",
            details=False,
        ),
    },
    "login_code_sent": {
        "ja": NoticeText(
            "新しい端末から正しいパスワードが入力されました",
            "新しい端末から正しいパスワードでログインしようとする操作があったため、"
            "本人確認のコードを求めました。",
            "ご自身の操作であれば、対応は不要です。心当たりがない場合は、第三者があなたの"
            "パスワードを知っています。コードは誰にも教えず、いつもの方法でご自身でログインして、"
            "すぐにパスワードを変更してください。同じパスワードを使っているほかのサービスも"
            "変更してください。",
        ),
        "en": NoticeText(
            "Your correct password was entered on a new device",
            "Someone entered your correct password on a new device, so we asked for a "
            "security code before letting them in.",
            "If that was you, there is nothing to do. If it was not, someone knows your "
            "password: never share the code, log in yourself as usual and change your password "
            "now, and on every other service where you use it.",
        ),
    },
    "password_changed": {
        "ja": NoticeText(
            "パスワードが変更されました",
            "アカウントのパスワードが変更されました。",
            "ご自身の操作であれば、対応は不要です。心当たりがない場合は、ログイン画面から"
            "すぐにパスワードを再設定し、同じパスワードを使っているほかのサービスも変更して"
            "ください。",
        ),
        "en": NoticeText(
            "Your password was changed",
            "The password of your account was changed.",
            "If this was you, there is nothing to do. If it was not, reset your password from "
            "the login page now, and change it on every other service where you use it.",
        ),
    },
    "password_reset": {
        "ja": NoticeText(
            "パスワードが再設定されました",
            "「パスワードの再設定」により、アカウントのパスワードが変更されました。",
            "ご自身の操作であれば、対応は不要です。心当たりがない場合は、すぐにサポートへ"
            "ご連絡ください（連絡先は当サービスの「ご連絡について」のページにあります）。",
        ),
        "en": NoticeText(
            "Your password was reset",
            'The password of your account was changed through "forgot password".',
            "If this was you, there is nothing to do. If it was not, contact support now "
            '(see "How we contact you" on our site).',
        ),
    },
    "email_changed": {
        "ja": NoticeText(
            "メールアドレスが変更されました",
            "アカウントに登録されたメールアドレスが {old_email} から {new_email} に"
            "変更されました。",
            "ご自身の操作であれば、対応は不要です。心当たりがない場合は、すぐにサポートへ"
            "ご連絡ください（連絡先は当サービスの「ご連絡について」のページにあります）。",
        ),
        "en": NoticeText(
            "Your email address was changed",
            "The email address registered to your account was changed from {old_email} to "
            "{new_email}.",
            "If this was you, there is nothing to do. If it was not, contact support now "
            '(see "How we contact you" on our site).',
        ),
    },
    "email_changed_new": {
        "ja": NoticeText(
            "このメールアドレスが登録されました",
            "このメールアドレスが、アカウントの連絡先として登録されました（以前の連絡先: "
            "{old_email}）。",
            "今後のセキュリティに関するお知らせや確認コードはこのアドレスに届きます。"
            "心当たりがない場合は、サポートへご連絡ください。",
        ),
        "en": NoticeText(
            "This email address was added to an account",
            "This address is now the contact address of the account (previously {old_email}).",
            "Security notices and codes will come here from now on. If this was not you, "
            "contact support.",
        ),
    },
    "phone_added": {
        "ja": NoticeText(
            "電話番号が追加されました",
            "電話番号（{phone}）がアカウントに追加されました。"
            "今後はログインの確認コードをSMSでも受け取れます。",
            "ご自身の操作であれば、対応は不要です。心当たりがない場合は、いつもの方法で"
            "ログインしてセキュリティ設定から番号を削除し、パスワードを変更してください。",
        ),
        "en": NoticeText(
            "A phone number was added",
            "A phone number ({phone}) was added to your account. Login codes can now be sent "
            "to it by SMS.",
            "If this was you, there is nothing to do. If it was not, log in as usual, remove "
            "the number in your security settings and change your password.",
        ),
    },
    "phone_removed": {
        "ja": NoticeText(
            "電話番号が削除されました",
            "電話番号（{phone}）がアカウントから削除されました。",
            "ご自身の操作であれば、対応は不要です。心当たりがない場合は、いつもの方法で"
            "ログインしてパスワードを変更し、セキュリティ設定を確認してください。",
        ),
        "en": NoticeText(
            "A phone number was removed",
            "The phone number {phone} was removed from your account.",
            "If this was you, there is nothing to do. If it was not, log in as usual, change "
            "your password and review your security settings.",
        ),
    },
    "two_step_changed": {
        "ja": NoticeText(
            "2段階認証の設定が変更されました",
            "2段階認証の設定が「{mode_label}」に変更されました。",
            "ご自身の操作であれば、対応は不要です。心当たりがない場合は、いつもの方法で"
            "ログインしてパスワードを変更し、セキュリティ設定を確認してください。",
        ),
        "en": NoticeText(
            "Two-step verification was changed",
            'Two-step verification is now set to "{mode_label}".',
            "If this was you, there is nothing to do. If it was not, log in as usual, change "
            "your password and review your security settings.",
        ),
    },
    "totp_added": {
        "ja": NoticeText(
            "認証アプリが設定されました",
            "2段階認証の方法として、認証アプリが設定されました。",
            "ご自身の操作であれば、対応は不要です。心当たりがない場合は、いつもの方法で"
            "ログインしてパスワードを変更し、セキュリティ設定を確認してください。",
        ),
        "en": NoticeText(
            "An authenticator app was set up",
            "An authenticator app was set up for two-step verification.",
            "If this was you, there is nothing to do. If it was not, log in as usual, change "
            "your password and review your security settings.",
        ),
    },
    "totp_removed": {
        "ja": NoticeText(
            "認証アプリが解除されました",
            "2段階認証の方法から、認証アプリが解除されました。",
            "ご自身の操作であれば、対応は不要です。心当たりがない場合は、いつもの方法で"
            "ログインしてパスワードを変更し、セキュリティ設定を確認してください。",
        ),
        "en": NoticeText(
            "The authenticator app was removed",
            "The authenticator app was removed from two-step verification.",
            "If this was you, there is nothing to do. If it was not, log in as usual, change "
            "your password and review your security settings.",
        ),
    },
    "recovery_codes_generated": {
        "ja": NoticeText(
            "新しいリカバリーコードが作成されました",
            "新しいリカバリーコードが作成されました。以前のコードは使えなくなりました。",
            "ご自身の操作であれば、対応は不要です。心当たりがない場合は、いつもの方法で"
            "ログインしてパスワードを変更し、リカバリーコードを作り直してください。",
        ),
        "en": NoticeText(
            "New recovery codes were created",
            "A new set of recovery codes was created. The old codes no longer work.",
            "If this was you, there is nothing to do. If it was not, log in as usual, change "
            "your password and create new recovery codes.",
        ),
    },
    "recovery_code_used": {
        "ja": NoticeText(
            "リカバリーコードが使われました",
            "リカバリーコードを1つ使って本人確認が行われました。"
            "未使用のコードは残り{remaining}個です。",
            "ご自身の操作であれば、対応は不要です。心当たりがない場合は、いつもの方法で"
            "ログインしてパスワードを変更し、リカバリーコードを作り直してください。",
        ),
        "en": NoticeText(
            "A recovery code was used",
            "One of your recovery codes was used to confirm it's you. Unused codes left: "
            "{remaining}.",
            "If this was you, there is nothing to do. If it was not, log in as usual, change "
            "your password and create new recovery codes.",
        ),
    },
    "account_locked": {
        "ja": NoticeText(
            "ログインを一時的に停止しました",
            "パスワードの誤りが続いたため、このアカウントへのログインを一時的に停止しました"
            "（約{minutes}分間）。最後の試みは次のとおりです。",
            "ご自身の操作であれば、時間をおいてからお試しください。心当たりがない場合は、"
            "第三者がログインを試みています。推測されにくいパスワードにし、"
            "2段階認証のご利用をおすすめします。",
        ),
        "en": NoticeText(
            "Logins are paused for a while",
            "After repeated wrong passwords, logins to this account are paused for about "
            "{minutes} minutes. The last attempt:",
            "If this was you, wait and try again later. If it was not, someone is trying to "
            "get in: use a password that is hard to guess, and turn on two-step verification.",
        ),
    },
    "account_restricted": {
        "ja": NoticeText(
            "アカウントのご利用を制限しました",
            "不正利用の疑いがあるため、このアカウントのご利用を制限しました。"
            "制限中はログインできません。",
            "お心当たりがない場合や制限の解除をご希望の場合は、サポートへお問い合わせください"
            "（連絡先は当サービスの「ご連絡について」のページにあります）。",
            details=False,
        ),
        "en": NoticeText(
            "Your account is restricted",
            "Because of suspected misuse, your account is restricted: it cannot be logged in "
            "to for now.",
            "If you do not know why, or want the restriction lifted, contact support (see "
            '"How we contact you" on our site).',
            details=False,
        ),
    },
    "password_reset_forced": {
        "ja": NoticeText(
            "次回ログイン時にパスワードの再設定が必要です",
            "安全のため、次回のログイン時に新しいパスワードの設定が必要になりました。",
            "次にいつもの方法でログインすると、本人確認のあとで新しいパスワードの設定を"
            "ご案内します。このメールに返信したり、メールからパスワードを入力したりする必要は"
            "ありません。",
            details=False,
        ),
        "en": NoticeText(
            "Set a new password at your next login",
            "For your safety, your next login will ask you to set a new password.",
            "Log in as usual: after confirming it's you, we will ask for a new password. "
            "There is nothing to reply to or enter from this message.",
            details=False,
        ),
    },
    "dormant_warning": {
        "ja": NoticeText(
            "長期間ご利用のないアカウントの利用停止について",
            "このアカウントには長期間ログインがありません。{days}日後までにログインがない場合、"
            "安全のためアカウントの利用を停止します。",
            "引き続きご利用になる場合は、いつもの方法でログインしてください。"
            "このメールからログインしたりパスワードを入力したりする必要はありません。",
            details=False,
        ),
        "en": NoticeText(
            "Your unused account will be suspended",
            "Nobody has logged in to this account for a long time. If there is no login within "
            "{days} days, we will suspend it for your safety.",
            "To keep using it, log in as usual. There is nothing to click or enter from this "
            "message.",
            details=False,
        ),
    },
    "account_suspended": {
        "ja": NoticeText(
            "長期間ご利用のないアカウントの利用を停止しました",
            "長期間ログインがなかったため、このアカウントの利用を停止しました。",
            "再開するには、ログイン画面の「パスワードをお忘れの方」から、メールアドレスの確認と"
            "本人確認のうえ新しいパスワードを設定してください。",
            details=False,
        ),
        "en": NoticeText(
            "Your unused account was suspended",
            "Nobody had logged in to this account for a long time, so it was suspended.",
            'To reactivate it, use "Forgot your password?" on the login page: confirm your '
            "email address, pass the second step and set a new password.",
            details=False,
        ),
    },
    "totp_replay": {
        "ja": NoticeText(
            "認証アプリのコードが再利用されました",
            "すでに使用済みの認証アプリのコードでログインしようとする試みがありました。"
            "このコードは受け付けていません。",
            "ご自身の操作でない場合、第三者があなたのパスワードと認証コードを盗み見ている"
            "可能性があります。いつもの方法でログインしてすぐにパスワードを変更し、"
            "セキュリティ設定でログイン中の端末を確認してください。",
        ),
        "en": NoticeText(
            "An authenticator code was used twice",
            "Someone tried to log in with an authenticator code that had already been used. "
            "The code was refused.",
            "If this was not you, someone may have your password and watched your codes: log "
            "in as usual, change your password now and review your devices in the security "
            "settings.",
        ),
    },
}

# SMS: short, the notice code, no link at all.
_SMS: dict[str, dict[str, str]] = {
    "email_changed": {
        "ja": "Mamori: 登録メールアドレスが変更されました（{time}）。心当たりがなければ"
        "サポートへご連絡ください。通知番号 {notice_code}",
        "en": "Mamori: your account's email address was changed ({time}). Not you? Contact "
        "support. Notice code {notice_code}",
    },
    "new_device_login": {
        "ja": "Mamori: 新しい端末からログインがありました（{time}、{browser}）。"
        "心当たりがなければメールをご確認ください。通知番号 {notice_code}",
        "en": "Mamori: new sign-in to your account ({time}, {browser}). Not you? See our "
        "email. Notice code {notice_code}",
    },
    "password_changed": {
        "ja": "Mamori: パスワードが変更されました（{time}）。心当たりがなければすぐに"
        "再設定してください。通知番号 {notice_code}",
        "en": "Mamori: your password was changed ({time}). Not you? Reset it now. "
        "Notice code {notice_code}",
    },
    "password_reset": {
        "ja": "Mamori: パスワードが再設定されました（{time}）。心当たりがなければサポートへ"
        "ご連絡ください。通知番号 {notice_code}",
        "en": "Mamori: your password was reset ({time}). Not you? Contact support. "
        "Notice code {notice_code}",
    },
    "phone_removed": {
        "ja": "Mamori: この電話番号がアカウントから削除されました（{time}）。心当たりが"
        "なければパスワードを変更してください。通知番号 {notice_code}",
        "en": "Mamori: this phone number was removed from your account ({time}). Not you? "
        "Change your password. Notice code {notice_code}",
    },
    "two_step_changed": {
        "ja": "Mamori: 2段階認証の設定が変更されました（{time}）。心当たりがなければ"
        "パスワードを変更してください。通知番号 {notice_code}",
        "en": "Mamori: two-step verification was changed ({time}). Not you? Change your "
        "password. Notice code {notice_code}",
    },
    "account_restricted": {
        "ja": "Mamori: アカウントのご利用を制限しました。サポートへお問い合わせください。"
        "通知番号 {notice_code}",
        "en": "Mamori: your account is restricted. Please contact support. "
        "Notice code {notice_code}",
    },
}

# for a kind this version has no text for (a newer caller): plain and still safe
_GENERIC = {
    "ja": NoticeText(
        "アカウントのセキュリティに関するお知らせ",
        "アカウントのセキュリティに関わる操作がありました。",
        "心当たりがない場合は、いつもの方法でログインしてパスワードを変更し、"
        "セキュリティのお知らせを確認してください。",
    ),
    "en": NoticeText(
        "A security notice about your account",
        "Something security-related happened on your account.",
        "If this was not you, log in as usual, change your password and check your security inbox.",
    ),
}
_GENERIC_SMS = {
    "ja": "Mamori: アカウントのセキュリティに関するお知らせがあります（{time}）。"
    "通知番号 {notice_code}",
    "en": "Mamori: a security notice about your account ({time}). Notice code {notice_code}",
}

_BRAND = {"ja": "【Mamori】", "en": "[Mamori] "}

_GREETING = {"ja": "{login_id} 様", "en": "Hello {login_id},"}

_DETAILS = {
    "ja": "日時: {time}\n端末: {browser}（{os}）\nおおよその場所: {location}\n"
    "ネットワーク: {network}\nIPアドレス: {ip}",
    "en": "Time: {time}\nDevice: {browser} ({os})\nApproximate location: {location}\n"
    "Network: {network}\nIP address: {ip}",
}

_TIME_ONLY = {"ja": "日時: {time}", "en": "Time: {time}"}

_NOT_ME = {
    "ja": "心当たりがない場合は、次のリンクを開いて「自分ではない」を押してください"
    "（ログインやパスワードの入力は求めません。その端末をログアウトさせ、次回ログイン時に"
    "パスワードの再設定と本人確認を必須にします）:\n{not_me_url}",
    "en": 'If it was not, open this link and press "This wasn\'t me" (it never asks you to '
    "log in or for your password; it signs that device out and makes the next login reset "
    "the password and pass the second step):\n{not_me_url}",
}

_FOOTER = {
    "ja": "通知番号: {notice_code}\n"
    "この通知が本物かどうかは、次のページで通知番号を入力すると確認できます:\n{verify_url}\n"
    "当社がメールやSMSでパスワードや確認コードを尋ねたり、ログイン用のリンクを送ったり"
    "することはありません。",
    "en": "Notice code: {notice_code}\n"
    "To check that this notice is genuine, enter its code on this page:\n{verify_url}\n"
    "We never ask for your password or a code by email or SMS, and never send login links.",
}

MODE_LABELS = {
    "ja": {
        "off": "オフ（パスワードのみ）",
        "new_devices": "新しい端末やいつもと違う環境からのログイン時に確認",
        "every_login": "毎回のログインで確認",
    },
    "en": {
        "off": "off (password only)",
        "new_devices": "ask on new browsers and unusual logins",
        "every_login": "ask at every login",
    },
}

NOTICE_KINDS: tuple[str, ...] = tuple(_NOTICES)
SMS_KINDS: tuple[str, ...] = tuple(_SMS)


def _lang(language: str) -> str:
    return language if language in _BRAND else "en"


def notice_text(kind: str, language: str) -> NoticeText:
    """The parts of a notice (a generic text for a kind without its own)."""
    return _NOTICES.get(kind, _GENERIC)[_lang(language)]


def email_template(kind: str, language: str, *, with_link: bool) -> tuple[str, str]:
    """(subject, body template) of a notice's email."""
    lang = _lang(language)
    text = notice_text(kind, lang)
    parts = [
        _GREETING[lang],
        text.summary,
        _DETAILS[lang] if text.details else _TIME_ONLY[lang],
        text.advice,
    ]
    if with_link:
        parts.append(_NOT_ME[lang])
    parts.append(_FOOTER[lang])
    return _BRAND[lang] + text.title, "\n\n".join(parts)


def sms_template(kind: str, language: str) -> str:
    """The body template of a notice's SMS (a generic one for a kind without its own)."""
    return _SMS.get(kind, _GENERIC_SMS)[_lang(language)]


# ---- incident response (flows/incident_actions.py): the notice to accounts whose password
# an attack confirmed. Kept out of NOTICE_KINDS (a kind issued only by an operator's action).
_NOTICES["incident_response"] = {
    "ja": NoticeText(
        "お使いのパスワードが第三者に知られている可能性があります",
        "当社への不正なログインの試みの中で、お使いのアカウントのログインIDとパスワードの"
        "組み合わせが入力されたことを確認しました。他のサービスから流出したIDとパスワードが"
        "使われた可能性があります。安全のため、ログイン中の端末をすべてログアウトさせ、"
        "次回のログイン時に本人確認と新しいパスワードの設定をお願いすることにしました。",
        "いつもの方法でログインし、ご案内に従って新しいパスワードを設定してください。"
        "同じパスワードを他のサービスでもお使いの場合は、そちらも変更してください。"
        "このメールに返信したり、メールからパスワードを入力したりする必要はありません。",
        details=False,
    ),
    "en": NoticeText(
        "Your password may be known to someone else",
        "During an attack on our login, someone entered your login ID together with your "
        "password. It was probably taken from another service's leak. For your safety we "
        "signed out all your devices, and your next login will confirm it's you and ask you "
        "to set a new password.",
        "Log in as usual and set a new password when asked. If you use the same password "
        "anywhere else, change it there too. There is nothing to reply to or enter from this "
        "message.",
        details=False,
    ),
}
_SMS["incident_response"] = {
    "ja": "Mamori: 不正ログインの試みでお使いのパスワードが使われました。次回ログイン時に"
    "再設定してください。通知番号 {notice_code}",
    "en": "Mamori: your password was used in an attack on our login. Set a new one at your "
    "next login. Notice code {notice_code}",
}
