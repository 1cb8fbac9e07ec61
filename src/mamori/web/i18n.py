"""User-facing texts in Japanese and English, and the language of a request."""

from __future__ import annotations

from starlette.requests import Request

LANGUAGES = ("ja", "en")
LANG_COOKIE = "mamori_lang"

_T: dict[str, tuple[str, str]] = {
    # (ja, en)
    "app_name": ("Mamori", "Mamori"),
    "login": ("ログイン", "Log in"),
    "logout": ("ログアウト", "Log out"),
    "signup": ("新規登録", "Sign up"),
    "login_id": ("ログインID", "Login ID"),
    "email": ("メールアドレス", "Email address"),
    "phone": ("電話番号（任意）", "Phone number (optional)"),
    "password": ("パスワード", "Password"),
    "new_password": ("新しいパスワード", "New password"),
    "current_password": ("現在のパスワード", "Current password"),
    "remember": ("ログインしたままにする", "Keep me signed in"),
    "no_account": ("アカウントをお持ちでない方", "No account yet?"),
    "have_account": ("アカウントをお持ちの方", "Already have an account?"),
    "password_hint": (
        "12文字以上。スペースや絵文字も使えます。よく使われるパスワードは使えません。",
        "At least 12 characters. Spaces and emoji are fine. Common passwords are not accepted.",
    ),
    "strength": ("パスワードの強度", "Password strength"),
    "strength_0": ("とても弱い", "Very weak"),
    "strength_1": ("弱い", "Weak"),
    "strength_2": ("普通", "Fair"),
    "strength_3": ("強い", "Strong"),
    "strength_4": ("とても強い", "Very strong"),
    "verify_email": ("メールアドレスの確認", "Verify your email address"),
    "verify_email_intro": (
        "{email} に6桁の確認コードを送りました。コードを入力してください。",
        "We sent a 6-digit code to {email}. Enter it below.",
    ),
    "code": ("確認コード", "Code"),
    "verify": ("確認する", "Verify"),
    "resend": ("コードを再送する", "Send a new code"),
    "code_sent": ("新しいコードを送りました。", "A new code is on its way."),
    "skip_for_now": ("あとで確認する", "Verify later"),
    "account": ("アカウント", "Account"),
    "account_overview": ("アカウント情報", "Your account"),
    "verified": ("確認済み", "verified"),
    "unverified": ("未確認", "not verified"),
    "verify_now": ("今すぐ確認する", "Verify now"),
    "member_since": ("登録日", "Member since"),
    "active_sessions": ("ログイン中のセッション", "Active sessions"),
    "login_history": ("ログイン履歴", "Login history"),
    "change_password": ("パスワードの変更", "Change password"),
    "sign_out_others": ("他のセッションをすべてログアウトする", "Sign out all other sessions"),
    "password_changed": ("パスワードを変更しました。", "Your password was changed."),
    "email_verified_ok": ("メールアドレスを確認しました。", "Your email address is verified."),
    "time": ("日時", "Time"),
    "device": ("端末", "Device"),
    "location": ("おおよその場所", "Approximate location"),
    "network": ("ネットワーク", "Network"),
    "ip": ("IPアドレス", "IP address"),
    "result": ("結果", "Result"),
    "result_ok": ("成功", "Success"),
    "result_fail": ("失敗", "Failed"),
    "no_history": ("まだ履歴はありません。", "No logins yet."),
    "history_intro": (
        "心当たりのないログインがあれば、すぐにパスワードを変更してください。",
        "If you see a login you don't recognize, change your password now.",
    ),
    "dev_outbox": ("開発用送信箱", "Dev outbox"),
    "dev_outbox_intro": (
        "開発モード（MAMORI_DEV=1）で送信されたすべてのメールとSMSです。",
        "Every email and SMS the service sent while MAMORI_DEV=1.",
    ),
    "to": ("宛先", "To"),
    "subject": ("件名", "Subject"),
    "no_messages": ("メッセージはありません。", "No messages."),
    "submit_save": ("保存する", "Save"),
    "language": ("Language", "言語"),
    "error": ("エラー", "Error"),
    "back": ("戻る", "Back"),
    "not_found": ("ページが見つかりません。", "Page not found."),
    "this_device": ("この端末", "this device"),
    # login challenge (second step)
    "challenge_title": ("ログインの確認", "Confirm it's you"),
    "challenge_intro": (
        "いつもと違う環境からのログインのため、本人確認をお願いしています。"
        "ログインIDとパスワードが正しければ、確認コードを {where} に送りました。",
        "This login looks new, so we need to confirm it's you. If the login ID and password "
        "were correct, we sent a code to {where}.",
    ),
    "challenge_no_code": (
        "1分ほど待ってもコードが届かない場合は、パスワードが間違っている可能性があります。"
        "ログイン画面からやり直してください。",
        "If no code arrives within a minute, the password may have been wrong: start again "
        "from the login page.",
    ),
    "challenge_where_email": ("登録メールアドレス", "your registered email address"),
    "challenge_where_sms": ("登録電話番号（SMS）", "your registered phone (SMS)"),
    "method_email": ("メールで届いたコード", "Code sent by email"),
    "method_sms": ("SMSで届いたコード", "Code sent by SMS"),
    "method_totp": ("認証アプリのコード", "Code from your authenticator app"),
    "method_recovery": ("リカバリーコード", "A recovery code"),
    "remember_device": (
        "このブラウザでは次回から確認しない（{days}日間）",
        "Don't ask again on this browser ({days} days)",
    ),
    "send_by_sms": ("SMSで送る", "Send by SMS instead"),
    "never_share_code": (
        "当社がコードを電話やメールで尋ねることはありません。誰にも教えないでください。",
        "We will never ask you for this code by phone or email. Never share it.",
    ),
    # -- security settings (two-step): add new keys above this line --
    # error codes
    "err_challenge_failed": (
        "確認できませんでした。もう一度ログインからやり直してください。",
        "We could not confirm it's you. Please start again from the login page.",
    ),
    "err_resend_limited": (
        "コードの再送回数の上限に達したか、間隔が短すぎます。しばらくお待ちください。",
        "Too many codes were sent, or too soon. Please wait a moment.",
    ),
    "err_login_denied": (
        "安全のため、このログインはお受けできません。別の環境からお試しいただくか、"
        "サポートにお問い合わせください。",
        "For your safety this login cannot be accepted. Try from another network or "
        "contact support.",
    ),
    "err_invalid_credentials": (
        "ログインIDまたはパスワードが正しくありません。",
        "The login ID or password is incorrect.",
    ),
    "err_not_authenticated": ("ログインしてください。", "Please log in."),
    "err_invalid_login_id": (
        "ログインIDは3〜64文字の英数字と . _ - @ + で入力してください。",
        "Login IDs are 3–64 letters, digits or . _ - @ +.",
    ),
    "err_invalid_email": ("メールアドレスが正しくありません。", "That email address is not valid."),
    "err_invalid_phone": ("電話番号が正しくありません。", "That phone number is not valid."),
    "err_login_id_taken": ("このログインIDは使われています。", "That login ID is taken."),
    "err_email_taken": (
        "このメールアドレスは登録済みです。ログインしてください。",
        "That email address already has an account. Please log in.",
    ),
    "err_password_rejected": ("このパスワードは使えません。", "That password cannot be used."),
    "err_code_invalid": (
        "コードが正しくないか、有効期限が切れています。",
        "The code is wrong or has expired.",
    ),
    "err_csrf_failed": (
        "フォームの有効期限が切れました。もう一度お試しください。",
        "The form expired. Please try again.",
    ),
    "err_invalid_request": ("入力内容を確認してください。", "Please check your input."),
    "err_malformed_json": ("JSONの形式が正しくありません。", "The JSON body is malformed."),
    "err_invalid_encoding": (
        "文字コードが正しくありません（UTF-8で送ってください）。",
        "The request is not valid UTF-8.",
    ),
    "err_body_too_large": ("送信データが大きすぎます。", "The request body is too large."),
    "err_unsupported_media_type": (
        "Content-Type は application/json にしてください。",
        "Content-Type must be application/json.",
    ),
    "err_not_found": ("見つかりません。", "Not found."),
    "err_temporarily_locked": (
        "不正ログインのおそれがあるため、ご利用を一時的に制限しています。しばらくしてから"
        "もう一度お試しください。",
        "Because of a risk of unauthorized login, use is temporarily restricted. "
        "Please try again later.",
    ),
    "err_too_many_requests": (
        "短時間に多くのリクエストがあったため、一時的にご利用を制限しています。"
        "しばらくしてからもう一度お試しください。",
        "Too many requests in a short time: use is temporarily restricted. Please try again later.",
    ),
    "err_overloaded": (
        "ただいま混み合っています。少し待ってからもう一度お試しください。",
        "We are busy right now. Please try again in a moment.",
    ),
    "err_restricted": (
        "不正利用の疑いが検知されたため、このアカウントのご利用を制限しています。"
        "サポートにお問い合わせください。",
        "Suspected fraudulent use was detected, so this account is restricted. "
        "Please contact support.",
    ),
    "err_forbidden": ("この操作は許可されていません。", "You are not allowed to do this."),
    "retry_in": ("{minutes}分後にもう一度お試しください。", "Try again in {minutes} minutes."),
    "err_method_not_allowed": ("この方法では使えません。", "Method not allowed."),
    "err_internal_error": (
        "サーバーで問題が発生しました。時間をおいてお試しください。",
        "Something went wrong on our side. Please try again later.",
    ),
    # password policy violations
    "pw_too_short": (
        "パスワードが短すぎます（{min}文字以上）。",
        "Too short (at least {min} characters).",
    ),
    "pw_too_long": (
        "パスワードが長すぎます（{max}文字まで）。切り詰めずにお断りしています。",
        "Too long (at most {max} characters). We never truncate passwords.",
    ),
    "pw_not_printable": ("使えない制御文字が含まれています。", "It contains control characters."),
    "pw_common": (
        "よく使われている、または漏えいしたことのあるパスワードです。",
        "It is a common or previously breached password.",
    ),
    "pw_contains_login_id": (
        "ログインIDを含めないでください。",
        "It must not contain your login ID.",
    ),
    "pw_contains_email": (
        "メールアドレスを含めないでください。",
        "It must not contain your email address.",
    ),
    "pw_breached": (
        "過去の漏えいで見つかったパスワードです。",
        "It appears in a known data breach.",
    ),
}


def t(key: str, lang: str, **params: object) -> str:
    pair = _T.get(key)
    if pair is None:
        return key
    text = pair[0] if lang == "ja" else pair[1]
    return text.format(**params) if params else text


def has(key: str) -> bool:
    return key in _T


def negotiate(request: Request, default: str) -> str:
    """?lang= beats the language cookie, which beats Accept-Language, which beats the default."""
    q = request.query_params.get("lang")
    if q in LANGUAGES:
        return q
    c = request.cookies.get(LANG_COOKIE)
    if c in LANGUAGES:
        return c
    header = request.headers.get("accept-language", "")
    best, best_q = "", -1.0
    for part in header.split(",")[:20]:
        tag, _, params = part.strip().partition(";")
        lang = tag.strip().lower().split("-")[0]
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if lang in LANGUAGES and quality > best_q:
            best, best_q = lang, quality
    return best or default
