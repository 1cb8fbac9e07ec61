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
    "challenge_intro_app": (
        "いつもと違う環境からのログインのため、本人確認をお願いしています。"
        "認証アプリのコードを入力するか、ほかの方法を選んでください。",
        "This login looks new, so we need to confirm it's you. Enter the code from your "
        "authenticator app, or choose another way.",
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
    # account security settings (two-step)
    "sec_title": ("セキュリティ設定", "Security settings"),
    "sec_intro": (
        "ログイン時の本人確認（2段階認証）の方法と、ログインに使った端末を管理します。",
        "Choose how we confirm it's you when you log in, and manage the browsers you use.",
    ),
    "sec_methods": ("使える確認方法", "Ways to confirm it's you"),
    "sec_on": ("設定済み", "On"),
    "sec_off": ("未設定", "Off"),
    "sec_mode": ("2段階認証", "Two-step verification"),
    "sec_mode_off": ("使わない（パスワードのみ）", "Off (password only)"),
    "sec_mode_new_devices": (
        "新しい端末やいつもと違う環境からのログイン時に確認する",
        "Ask when I log in from a new browser or an unusual place",
    ),
    "sec_mode_every_login": ("毎回のログインで確認する", "Ask at every login"),
    "sec_mode_forced": (
        "このアカウントでは、管理者の設定により2段階認証が必須です。",
        "Your administrator requires two-step verification for this account.",
    ),
    "sec_reauth_hint_totp": (
        "確認を弱める・解除するときは、パスワードと認証アプリのコード"
        "（またはリカバリーコード）が必要です。",
        "Weakening or removing protection needs your password and a code from your "
        "authenticator app (or a recovery code).",
    ),
    "sec_reauth_hint_recovery": (
        "確認を弱める・解除するときは、パスワードとリカバリーコードが必要です。",
        "Weakening or removing protection needs your password and a recovery code.",
    ),
    "sec_reauth_hint_none": (
        "確認を弱める・解除するときは、パスワードが必要です。",
        "Weakening or removing protection needs your password.",
    ),
    "sec_reauth_code_totp": (
        "認証アプリのコードまたはリカバリーコード",
        "Authenticator code or recovery code",
    ),
    "sec_reauth_code_recovery": ("リカバリーコード", "Recovery code"),
    "sec_totp": ("認証アプリ", "Authenticator app"),
    "sec_totp_intro": (
        "Google Authenticator や Microsoft Authenticator などのアプリに表示される6桁のコードで"
        "本人確認します。",
        "Confirm it's you with the 6-digit code shown by an app such as Google Authenticator "
        "or Microsoft Authenticator.",
    ),
    "sec_totp_start": ("認証アプリを設定する", "Set up an authenticator app"),
    "sec_totp_scan": (
        "認証アプリでQRコードを読み取るか、下のキーを手入力してください。",
        "Scan the QR code with your app, or type in the key below.",
    ),
    "sec_totp_key": ("手入力用のキー", "Key for manual entry"),
    "sec_totp_confirm": (
        "アプリに表示された6桁のコードを入力して設定を完了してください",
        "Enter the 6-digit code your app shows to finish",
    ),
    "sec_totp_cancel": ("設定をやめる", "Cancel setup"),
    "sec_totp_remove": ("認証アプリを解除する", "Remove the authenticator app"),
    "sec_recovery": ("リカバリーコード", "Recovery codes"),
    "sec_recovery_intro": (
        "認証アプリやスマートフォンが使えないときに、1回だけ使えるコードです。"
        "印刷するなどして安全な場所に保管してください。",
        "Single-use codes for when you cannot use your authenticator app or phone. "
        "Print them or keep them somewhere safe.",
    ),
    "sec_recovery_remaining": ("未使用のコード：{n}個", "Unused codes: {n}"),
    "sec_recovery_generate": ("新しいリカバリーコードを作成する", "Generate new recovery codes"),
    "sec_recovery_generate_hint": (
        "新しく作成すると、今までのコードはすべて使えなくなります。",
        "New codes replace all of your current ones, which stop working.",
    ),
    "sec_recovery_show_once": (
        "これらのコードが表示されるのは今回だけです。今すぐ印刷するか、安全な場所に保存して"
        "ください。",
        "These codes are shown only this once. Print them or save them somewhere safe now.",
    ),
    "sec_recovery_how": (
        "各コードは1回だけ使えます。ログインの確認で「リカバリーコード」を選んで入力してください。",
        "Each code works once. At the login check, choose “A recovery code” and enter one.",
    ),
    "sec_recovery_saved": ("保存しました", "I have saved them"),
    "sec_phone": ("電話番号（SMS）", "Phone (SMS)"),
    "sec_phone_intro": (
        "確認済みの電話番号があれば、ログインの確認コードをSMSでも受け取れます。",
        "With a verified phone number you can also get login codes by SMS.",
    ),
    "sec_phone_number": ("電話番号", "Phone number"),
    "sec_phone_send": ("確認コードを送る", "Send a code"),
    "sec_phone_sent": (
        "{phone} にSMSで確認コードを送りました。届いたコードを入力してください。",
        "We sent a code by SMS to {phone}. Enter it below.",
    ),
    "sec_phone_remove": ("電話番号を削除する", "Remove the phone number"),
    "sec_devices": ("ログインに使った端末", "Your browsers and devices"),
    "sec_devices_intro": (
        "「次回から確認しない」を選んだ端末では、{days}日間、2段階認証を省略します。"
        "心当たりのない端末は削除してください。",
        "Browsers where you chose “Don't ask again” skip the second step for {days} days. "
        "Forget any you don't recognize.",
    ),
    "sec_last_seen": ("最終利用", "Last used"),
    "sec_trusted": ("確認の省略", "Skips the check"),
    "sec_trusted_until": ("{date}まで", "until {date}"),
    "sec_device_untrust": ("省略をやめる", "Stop skipping"),
    "sec_device_forget": ("削除する", "Forget"),
    "sec_no_devices": ("記録された端末はありません。", "No browsers recorded yet."),
    "sec_done_mode": ("2段階認証の設定を保存しました。", "Two-step verification setting saved."),
    "sec_done_totp_enrolled": ("認証アプリを設定しました。", "Your authenticator app is set up."),
    "sec_done_totp_removed": ("認証アプリを解除しました。", "The authenticator app was removed."),
    "sec_done_phone_sent": ("確認コードをSMSで送りました。", "We sent a code by SMS."),
    "sec_done_phone_verified": ("電話番号を確認しました。", "Your phone number is verified."),
    "sec_done_phone_removed": ("電話番号を削除しました。", "The phone number was removed."),
    "sec_done_device_untrusted": (
        "この端末でも次回から確認を行います。",
        "That browser will be asked again.",
    ),
    "sec_done_device_forgotten": ("端末を削除しました。", "The browser was forgotten."),
    "err_totp_already_enrolled": (
        "認証アプリはすでに設定されています。",
        "An authenticator app is already set up.",
    ),
    "err_phone_already_verified": (
        "確認済みの電話番号があります。変更するには、先に今の番号を削除してください。",
        "You already have a verified phone number. Remove it first to use another.",
    ),
    "err_password_required": ("パスワードを入力してください。", "Please enter your password."),
    "err_two_step_required": (
        "このアカウントでは2段階認証をオフにできません。",
        "Two-step verification cannot be turned off for this account.",
    ),
    "err_invalid_mode": ("設定の値が正しくありません。", "That setting is not valid."),
    # security center and single-device mode
    "center_sessions": ("ログイン中の端末", "Sessions and devices"),
    "center_sessions_intro": (
        "このアカウントにログインしている端末です。心当たりのない端末はログアウトさせ、"
        "パスワードを変更してください。",
        "Where your account is signed in now. Sign out any you don't recognize, then change "
        "your password.",
    ),
    "center_signed_in": ("ログイン日時", "Signed in"),
    "center_last_active": ("最終アクセス", "Last active"),
    "center_sign_out": ("ログアウトさせる", "Sign out"),
    "center_use_logout": ("（ログアウトで終了）", "(use Log out)"),
    "center_sign_out_others": ("ほかのすべての端末からログアウト", "Sign out everywhere else"),
    "center_sign_out_others_intro": (
        "パスワードを入力すると、この端末以外のすべてのセッションを終了します。",
        "Enter your password to end every session except this one.",
    ),
    "center_no_others": (
        "ほかにログイン中の端末はありません。",
        "You are not signed in anywhere else.",
    ),
    "center_done_session_revoked": (
        "その端末をログアウトさせました。",
        "That session was signed out.",
    ),
    "center_done_others_revoked": (
        "ほかのすべての端末をログアウトさせました。",
        "You were signed out everywhere else.",
    ),
    "center_done_single_device": (
        "ほかの端末をログアウトさせました。この端末だけがログイン中です。",
        "Your other devices were signed out. Only this one is signed in.",
    ),
    "center_events": ("セキュリティイベント", "Security events"),
    "center_events_intro": (
        "最近のログインや設定の変更です。心当たりのないものがあれば「いいえ」を押してください。"
        "その端末をログアウトさせ、次回ログイン時にパスワードの再設定をお願いします。",
        "Recent logins and changes to your account. If you don't recognize one, press “No”: "
        "we sign that device out and ask for a new password at the next login.",
    ),
    "center_event": ("内容", "Event"),
    "center_was_this_you": ("あなたですか？", "Was this you?"),
    "center_yes_me": ("はい、私です", "Yes, it was me"),
    "center_not_me": ("いいえ、心当たりがない", "No, it wasn't me"),
    "center_feedback_was_me": ("本人と確認済み", "Confirmed as you"),
    "center_feedback_not_me": ("心当たりなしと報告済み", "Reported as not you"),
    "center_no_events": ("まだイベントはありません。", "No events yet."),
    "center_older": ("さらに前のイベント", "Older events"),
    "center_pw_after_not_me": (
        "心当たりのないログインが報告されています。ほかの端末はすべてログアウトさせてください。",
        "A login was reported as not you: sign out all other sessions.",
    ),
    "center_history_hint": (
        "心当たりのないログインは「セキュリティイベント」から報告できます。",
        "Report a login you don't recognize from Security events.",
    ),
    "risk": ("リスク", "Risk"),
    "risk_low": ("低", "Low"),
    "risk_medium": ("中", "Medium"),
    "risk_high": ("高", "High"),
    "risk_action_allow": ("許可", "allowed"),
    "risk_action_step_up": ("追加確認", "extra check"),
    "risk_action_deny": ("拒否", "denied"),
    "login_method": ("方法", "Method"),
    "method_password": ("パスワード", "Password"),
    "challenged": ("追加確認あり", "extra check asked"),
    "ev_signup": ("アカウント登録", "Account created"),
    "ev_login_success": ("ログイン", "Login"),
    "ev_login_failure": ("ログインの失敗", "Failed login"),
    "ev_login_challenged": ("ログイン時の本人確認", "Login check asked"),
    "ev_challenge_failed": ("本人確認の失敗", "Login check failed"),
    "ev_password_changed": ("パスワードの変更", "Password change"),
    "ev_password_reset_requested": ("パスワード再設定の申請", "Password reset requested"),
    "ev_password_reset": ("パスワードの再設定", "Password reset"),
    "ev_password_reset_forced": ("パスワード再設定の要求", "Password reset required"),
    "ev_email_verified": ("メールアドレスの確認", "Email address verified"),
    "ev_session_revoked": ("端末のログアウト", "Session signed out"),
    "ev_sessions_revoked": ("ほかの端末のログアウト", "Other sessions signed out"),
    "ev_account_locked": ("一時的な利用制限", "Temporarily locked"),
    "ev_account_unlocked": ("利用制限の解除", "Lock lifted"),
    "ev_account_restricted": ("アカウントの利用制限", "Account restricted"),
    "ev_account_unrestricted": ("利用制限の解除", "Restriction lifted"),
    "ev_device_trusted": ("端末の確認省略の設定", "Browser trust changed"),
    "ev_device_forgotten": ("端末の削除", "Browser forgotten"),
    "ev_two_step_mode_changed": ("2段階認証の設定変更", "Two-step setting changed"),
    "ev_two_step_required": ("2段階認証の要求", "Two-step verification required"),
    "ev_totp_enrolled": ("認証アプリの設定", "Authenticator app set up"),
    "ev_totp_removed": ("認証アプリの解除", "Authenticator app removed"),
    "ev_totp_replay": ("使用済みコードの再利用", "Used code tried again"),
    "ev_recovery_codes_generated": ("リカバリーコードの作成", "Recovery codes generated"),
    "ev_recovery_code_used": ("リカバリーコードの使用", "Recovery code used"),
    "ev_phone_verified": ("電話番号の確認", "Phone number verified"),
    "ev_phone_removed": ("電話番号の削除", "Phone number removed"),
    "ev_not_me_reported": ("「心当たりがない」の報告", "Reported “not me”"),
    "ev_was_me_confirmed": ("「本人です」の確認", "Confirmed “it was me”"),
    "ev_single_device_changed": ("1台の端末で使う設定の変更", "Single-device setting changed"),
    "sd_title": ("ほかの端末からログアウトします", "Your other device will be signed out"),
    "sd_intro": (
        "このアカウントは1台の端末だけで使う設定です。続けると、ほかの端末"
        "（{n}件のログイン）はログアウトされます。",
        "This account is used on one device at a time. If you continue, your other device "
        "({n} sessions) will be signed out.",
    ),
    "sd_question": ("続けますか？", "Continue?"),
    "sd_continue": ("続ける", "Continue"),
    "sd_cancel": (
        "キャンセル（この端末ではログインしない）",
        "Cancel (don't sign in here)",
    ),
    "sd_setting": ("1台の端末だけで使う", "Use on one device only"),
    "sd_setting_intro": (
        "オンにすると、新しい端末でログインしたときに、確認のうえでほかの端末をログアウト"
        "させます。",
        "When on, logging in on a new device signs your other devices out (we ask first).",
    ),
    "sd_setting_on": ("オン", "On"),
    "sd_setting_off": ("オフ", "Off"),
    "sd_setting_all": (
        "このサービスでは、すべてのアカウントが1台の端末だけで使う設定です。",
        "On this service every account is used on one device at a time.",
    ),
    "sec_done_single_device": ("設定を保存しました。", "Setting saved."),
    "err_current_session": (
        "この端末のセッションです。ログアウトを使ってください。",
        "This is the session you are using: log out instead.",
    ),
    "err_single_device_off": (
        "1台の端末だけで使う設定になっていません。",
        "Single-device mode is not on for this account.",
    ),
    "err_single_device_not_newest": (
        "より新しいログインがあるため、この端末からは実行できません。",
        "A newer login exists: only the newest one can do this.",
    ),
    "err_single_device_not_optional": (
        "このサービスではこの設定は変更できません。",
        "This setting cannot be changed on this service.",
    ),
    # forgot password / reset (web/reset_pages.py)
    "forgot_link": ("パスワードをお忘れの方", "Forgot your password?"),
    "reset_title": ("パスワードの再設定", "Reset your password"),
    "reset_forgot_intro": (
        "ログインIDまたは登録メールアドレスを入力してください。該当するアカウントがあれば、"
        "登録メールアドレスに6桁の確認コードと再設定用のリンクを送ります。",
        "Enter your login ID or email address. If an account matches, we will send a 6-digit "
        "code and a reset link to its registered email address.",
    ),
    "login_id_or_email": ("ログインIDまたはメールアドレス", "Login ID or email address"),
    "reset_send": ("確認コードを送る", "Send the code"),
    "reset_code_intro": (
        "該当するアカウントがあれば、登録メールアドレスに6桁の確認コードを送りました"
        "（{minutes}分間有効）。コードを入力するか、メールのリンクを開いてください。",
        "If an account matches, we sent a 6-digit code to its registered email address "
        "(valid for {minutes} minutes). Enter it, or open the link in the email.",
    ),
    "reset_code_none": (
        "数分待ってもメールが届かない場合は、入力内容を確かめてもう一度お申し込みください。",
        "If no email arrives within a few minutes, check what you entered and ask again.",
    ),
    "reset_again": ("もう一度申し込む", "Ask again"),
    "reset_second_intro": (
        "このアカウントでは2段階認証を使っています。パスワードを再設定するには、"
        "次のいずれかの方法で本人確認をしてください。",
        "This account uses two-step verification. To reset its password, confirm it's you "
        "in one of these ways.",
    ),
    "reset_send_sms": ("SMSでコードを送る", "Send a code by SMS"),
    "reset_sms_sent": (
        "登録電話番号にSMSで確認コードを送りました。",
        "We sent a code by SMS to your registered phone.",
    ),
    "reset_password_intro": (
        "{login_id} の新しいパスワードを設定してください。設定すると、すべての端末から"
        "ログアウトします。",
        "Choose a new password for {login_id}. Every device will be signed out.",
    ),
    "reset_submit": ("パスワードを再設定する", "Reset the password"),
    "reset_done_title": ("パスワードを再設定しました", "Your password was reset"),
    "reset_done_body": (
        "すべての端末からログアウトしました。新しいパスワードでログインしてください。",
        "Every device was signed out. Log in with your new password.",
    ),
    "reset_invalid_title": ("再設定を続けられません", "This reset cannot go on"),
    "reset_invalid_body": (
        "有効期限が切れたか、すでに使われたか、試行回数の上限に達しました。"
        "お手数ですが、もう一度お申し込みください。",
        "It has expired, was already used, or had too many tries. Please ask for a new one.",
    ),
    "err_reset_failed": (
        "再設定の有効期限が切れたか、すでに使われたか、試行回数の上限に達しました。"
        "もう一度お申し込みください。",
        "This reset has expired, was already used, or had too many tries. Please ask for a "
        "new one.",
    ),
    "err_reset_not_verified": (
        "先にメールで届いた確認コードを入力してください。",
        "Enter the code from the email first.",
    ),
    "err_second_step_required": (
        "先に本人確認（2段階認証）を済ませてください。",
        "Confirm it's you (two-step verification) first.",
    ),
    "err_reset_wrong_step": (
        "本人確認はすでに済んでいます。",
        "You have already confirmed it's you.",
    ),
    "err_invalid_method": (
        "この確認方法は使えません。",
        "That way of confirming is not available.",
    ),
    "pw_reused": (
        "現在のパスワードと同じです。別のパスワードにしてください。",
        "It is your current password. Choose a different one.",
    ),
    # -- notices: the security inbox, "this wasn't me", verify-notice, how we contact you --
    "inbox_title": ("セキュリティのお知らせ", "Security inbox"),
    "inbox_intro": (
        "アカウントのセキュリティに関するお知らせを、すべてここに保管しています。"
        "メールやSMSで届いたお知らせも、ここにあれば当社が送った本物です。",
        "Every security notice about your account is kept here. A notice you got by email or "
        "SMS is genuine if it is also here.",
    ),
    "inbox_empty": ("お知らせはありません。", "No notices yet."),
    "inbox_unread": ("未読", "New"),
    "inbox_unread_count": ("未読のお知らせ", "unread notices"),
    "inbox_genuine": ("当社が送った本物のお知らせ", "Genuine notice from us"),
    "inbox_channels": ("送信先", "Sent by"),
    "inbox_channel_email": ("メール", "email"),
    "inbox_channel_sms": ("SMS", "SMS"),
    "inbox_channel_inbox": ("このページ", "this page"),
    "inbox_ask": ("このログインはご自身ですか？", "Was this you?"),
    "inbox_not_me": ("自分ではない", "This wasn't me"),
    "inbox_was_me": ("はい、自分です", "Yes, it was me"),
    "inbox_not_me_hint": (
        "「自分ではない」を押すと、その端末をログアウトさせ、次回のログインで本人確認と"
        "パスワードの再設定を必須にします。",
        "\u201cThis wasn't me\u201d signs that device out and makes your next login confirm "
        "it's you and set a new password.",
    ),
    "inbox_feedback_not_me": ("「自分ではない」と報告済み", "Reported: this wasn't me"),
    "inbox_feedback_was_me": ("ご本人と確認済み", "Confirmed: it was you"),
    "inbox_done_not_me": (
        "ご報告を受け付けました。その端末をログアウトさせました。次回のログインでは、"
        "本人確認のあとでパスワードを再設定していただきます。",
        "Thank you. That device was signed out; at your next login you will confirm it's you "
        "and set a new password.",
    ),
    "inbox_done_was_me": (
        "確認しました。この端末は今後、新しい端末として扱いません。",
        "Thank you. That device is no longer treated as new.",
    ),
    "inbox_older": ("さらに前のお知らせ", "Older notices"),
    "err_already_answered": (
        "このお知らせにはすでに回答済みです。",
        "This notice was already answered.",
    ),
    "notme_title": ("「自分ではない」のご報告", "Report: this wasn't me"),
    "notme_intro": (
        "次のログインに心当たりがない場合は、下のボタンを押してください。",
        "If you do not recognize this sign-in, press the button below.",
    ),
    "notme_what": (
        "ボタンを押すと、その端末をログアウトさせて信頼を解除し、次回のログインで本人確認と"
        "パスワードの再設定を必須にします。ログインやパスワードの入力は必要ありません。",
        "The button signs that device out, stops trusting it, and makes your next login "
        "confirm it's you and set a new password. You do not need to log in or enter a password.",
    ),
    "notme_button": ("自分ではない（その端末をログアウトさせる）", "This wasn't me: sign it out"),
    "notme_done_title": ("ご報告ありがとうございました", "Thank you for telling us"),
    "notme_done": (
        "その端末はログアウトされました。次回ログインするときに、本人確認のあとで"
        "パスワードを再設定していただきます。",
        "That device was signed out; at your next login you will confirm it's you and "
        "reset your password.",
    ),
    "notme_done_advice": (
        "同じパスワードをほかのサービスでも使っている場合は、そちらも変更してください。",
        "If you use the same password on other services, change it there too.",
    ),
    "notme_invalid": (
        "このリンクは有効期限が切れているか、すでに使われています。",
        "This link has expired or was already used.",
    ),
    "notme_invalid_advice": (
        "ご心配な場合は、いつものブックマークからご自身でログインし、"
        "セキュリティのお知らせを確認してください。",
        "If you are worried, log in yourself from your usual bookmark and check your "
        "security inbox.",
    ),
    "verify_notice_title": ("お知らせが本物か確認する", "Check a notice"),
    "verify_notice_intro": (
        "当社からのメールやSMSには、必ず「通知番号」（例: K7QF-3MZP）が書かれています。"
        "番号を入力すると、当社が本当に送ったものか確認できます。",
        "Every email or SMS we send carries a notice code (such as K7QF-3MZP). Enter it to "
        "check that the message really came from us.",
    ),
    "verify_notice_code": ("通知番号", "Notice code"),
    "verify_notice_check": ("確認する", "Check"),
    "verify_notice_genuine": ("このお知らせは本物です。", "This notice is genuine."),
    "verify_notice_genuine_detail": (
        "{date} に当社が送った「{title}」のお知らせです。",
        "We sent it on {date}: \u201c{title}\u201d.",
    ),
    "verify_notice_forged": (
        "この番号のお知らせは、当社から送っていません。",
        "We never sent a notice with this code.",
    ),
    "verify_notice_forged_advice": (
        "そのメールやSMSのリンクは開かず、返信もせず、どこにもパスワードを入力しないで"
        "ください。削除してかまいません。",
        "Do not open its links, do not reply, and do not enter your password anywhere it "
        "leads. You can delete it.",
    ),
    "how_contact_title": ("当社からのご連絡について", "How we contact you"),
    "how_contact_intro": (
        "当社を名乗る偽のメールやSMSにご注意ください。当社からのご連絡は次のとおりです。",
        "Beware of fake emails and SMS using our name. This is how we contact you.",
    ),
    "how_contact_email": ("メールの差出人", "Email sender"),
    "how_contact_sms": ("SMSの送信者名", "SMS sender ID"),
    "how_contact_support": ("お問い合わせ窓口", "Support"),
    "how_contact_support_none": ("このサービスの管理者", "The administrator of this service"),
    "how_contact_rules": ("当社が必ず守ること", "What we always do, and never do"),
    "how_contact_rule_links": (
        "ログイン用のリンクを送ることはありません。",
        "We never send links that log you in.",
    ),
    "how_contact_rule_ask": (
        "メール・SMS・電話で、パスワードや確認コードを尋ねることはありません。",
        "We never ask for your password or a code by email, SMS or phone.",
    ),
    "how_contact_rule_code": (
        "すべてのお知らせに通知番号が付いています。本物かどうかは「お知らせが本物か確認する」"
        "ページやセキュリティのお知らせで確かめられます。",
        "Every notice carries a notice code: check it on the \u201cCheck a notice\u201d page or "
        "in your security inbox.",
    ),
    "how_contact_rule_not_me": (
        "お知らせの「自分ではない」リンクは、ログインもパスワードの入力も求めません。"
        "押すと安全を強める操作だけが行われます。",
        "The \u201cthis wasn't me\u201d link in a notice never asks you to log in or for a "
        "password: it can only tighten your account's security.",
    ),
    "how_contact_rule_bookmark": (
        "ご心配なときは、メールのリンクではなく、いつものブックマークからご自身でログインして"
        "ください。",
        "When in doubt, do not follow a link: log in yourself from your usual bookmark.",
    ),
    # -- email address change (web/email_pages.py) --
    "email_change": ("メールアドレスの変更", "Change email address"),
    "email_change_link": ("変更する", "Change"),
    "email_change_intro": (
        "新しいメールアドレスと現在のパスワードを入力してください。新しいアドレスに確認コードを"
        "お送りします。",
        "Enter the new address and your current password. We will send a code to the new address.",
    ),
    "email_change_both_notified": (
        "変更が完了すると、これまでのアドレスと新しいアドレスの両方にお知らせをお送りします。",
        "Once it is changed, we send a notice to both the old and the new address.",
    ),
    "email_change_current": ("現在のメールアドレス", "Current email address"),
    "new_email": ("新しいメールアドレス", "New email address"),
    "email_change_send": ("確認コードを送る", "Send the code"),
    "email_change_code_intro": (
        "{email} に確認コードをお送りしました。届いたコードを入力してください"
        "（{minutes}分間有効）。コードを入力するまでメールアドレスは変わりません。",
        "We sent a code to {email}. Enter it below (valid for {minutes} minutes). Your "
        "address does not change until you do.",
    ),
    "email_change_confirm": ("メールアドレスを変更する", "Change my email address"),
    "email_change_restart": (
        "別のアドレスにする／コードを送り直す",
        "Use another address or send a new code",
    ),
    "email_changed_ok": ("メールアドレスを変更しました。", "Your email address was changed."),
    "email_change_taken": (
        "このメールアドレスはほかのアカウントで使われています。",
        "That email address is used by another account.",
    ),
    "email_change_wrong_password": ("パスワードが正しくありません。", "The password is incorrect."),
    "err_email_unchanged": (
        "現在と同じメールアドレスです。",
        "That is already your email address.",
    ),
    "ev_email_changed": ("メールアドレスの変更", "Email address changed"),
    # -- operators' console (/admin) --
    "adm_console": ("運用コンソール", "Console"),
    "adm_nav_live": ("ライブ", "Live"),
    "adm_nav_accounts": ("アカウント", "Accounts"),
    "adm_nav_bans": ("ブロック", "Bans"),
    "adm_nav_audit": ("監査ログ", "Audit log"),
    "adm_nav_tokens": ("APIトークン", "API tokens"),
    "adm_role_admin": ("管理者", "admin"),
    "adm_role_analyst": ("アナリスト", "analyst"),
    "adm_times_utc": ("時刻はすべてUTCです。", "All times are UTC."),
    "adm_login_title": ("運用コンソールへのログイン", "Console login"),
    "adm_operator_name": ("オペレーター名", "Operator name"),
    "adm_totp_code": ("認証アプリのコード（6桁）", "Authenticator code (6 digits)"),
    "adm_login_hint": (
        "オペレーターは `mamori admin create` で作成します。",
        "Operators are created with `mamori admin create`.",
    ),
    "adm_login_failed": (
        "オペレーター名、パスワード、またはコードが正しくありません。",
        "The operator name, password or code is incorrect.",
    ),
    "adm_reauth_title": ("本人確認", "Confirm it's you"),
    "adm_reauth_intro": (
        "この操作の前に、パスワードと認証アプリの新しいコードを入力してください。"
        "確認後5分間は再入力なしで操作できます。",
        "Before this action, enter your password and a new code from your authenticator. "
        "Actions are allowed for 5 minutes afterwards.",
    ),
    "adm_reauth_needed": (
        "この操作には直近5分以内の本人確認が必要です。",
        "This action needs you to confirm it's you within the last 5 minutes.",
    ),
    "adm_reauth_submit": ("確認する", "Confirm"),
    "adm_reauth_hint": (
        "★の操作には本人確認（パスワードとコード）が必要です。",
        "Actions marked ★ need you to confirm with your password and a code first.",
    ),
    "adm_star_reauth": (
        "直近5分以内の本人確認が必要な操作です。",
        "Needs a confirmation with password and code within the last 5 minutes.",
    ),
    "adm_live_title": ("ログインの状況", "Login activity"),
    "adm_range": ("期間", "Period"),
    "adm_range_hour": ("1時間", "Hour"),
    "adm_range_day": ("1日", "Day"),
    "adm_range_week": ("1週間", "Week"),
    "adm_chart_title_hour": ("直近1時間のログイン（毎分）", "Logins in the last hour, per minute"),
    "adm_chart_title_day": ("直近1日のログイン（毎分）", "Logins in the last day, per minute"),
    "adm_chart_title_week": ("直近1週間のログイン（毎分）", "Logins in the last week, per minute"),
    "adm_per_minute": ("件／分", "per minute"),
    "adm_chart_caption": (
        "{minutes}分ごとの平均（件／分）。ブロックにはロック・リスク拒否と、"
        "検知器が保持する直近約1時間のブロック済み送信元からの拒否を含みます。",
        "Averages over {minutes}-minute buckets (per minute). Blocks are locks and risk "
        "denials, plus requests from banned sources for the last hour or so the detector keeps.",
    ),
    "adm_series_attempts": ("試行", "Attempts"),
    "adm_series_success": ("成功", "Successes"),
    "adm_series_failure": ("失敗", "Failures"),
    "adm_series_challenge": ("追加認証", "Challenges"),
    "adm_series_block": ("ブロック", "Blocks"),
    "adm_failure_ratio_now": ("現在の失敗率", "Failure ratio now"),
    "adm_sampled": (
        "イベントが多いため1/{k}を抽出した推定値です。",
        "Events are many: estimates from 1 in {k}.",
    ),
    "adm_top_note": (
        "上位の一覧は、期間中の最新のログインイベント{n}件から集計しています。",
        "The top lists count the latest {n} login events of the period.",
    ),
    "adm_baseline": ("平常時", "baseline"),
    "adm_period_failure_ratio": ("期間中の失敗率", "Failure ratio over the period"),
    "adm_under_attack": (
        "攻撃を検知しています（リスト型攻撃の疑い）。",
        "Under attack: the detector sees credential stuffing.",
    ),
    "adm_top_ip": ("送信元IP", "Top IPs"),
    "adm_top_subnet": ("送信元 /24・/64", "Top /24 and /64 subnets"),
    "adm_top_as_name": ("送信元ネットワーク", "Top networks"),
    "adm_top_country": ("送信元の国", "Top countries"),
    "adm_top_login_id": ("狙われたログインID", "Most targeted login IDs"),
    "adm_col_ip": ("IPアドレス", "IP address"),
    "adm_col_subnet": ("サブネット", "Subnet"),
    "adm_col_as_name": ("ネットワーク", "Network"),
    "adm_col_country": ("国", "Country"),
    "adm_col_login_id": ("ログインID", "Login ID"),
    "adm_col_failures": ("失敗", "Failures"),
    "adm_col_attempts": ("試行", "Attempts"),
    "adm_col_ban": ("対象", "Banned"),
    "adm_col_reason": ("理由", "Reason"),
    "adm_col_expires": ("期限", "Expires"),
    "adm_col_status": ("状態", "Status"),
    "adm_col_events": ("イベント", "Events"),
    "adm_col_last_seen": ("最終", "Last seen"),
    "adm_col_event": ("イベント", "Event"),
    "adm_col_result": ("結果", "Result"),
    "adm_col_risk": ("リスク", "Risk"),
    "adm_col_place": ("場所", "Where"),
    "adm_col_kind": ("種類", "Kind"),
    "adm_col_value": ("値", "Value"),
    "adm_col_origin": ("発生元", "Origin"),
    "adm_col_since": ("作成", "Created"),
    "adm_col_strikes": ("回数", "Strikes"),
    "adm_col_channels": ("経路", "Channels"),
    "adm_col_feedback": ("回答", "Answer"),
    "adm_col_actor": ("実行者", "Actor"),
    "adm_col_action": ("操作", "Action"),
    "adm_col_target": ("対象", "Target"),
    "adm_col_details": ("詳細", "Details"),
    "adm_col_name": ("名前", "Name"),
    "adm_col_scopes": ("権限", "Scopes"),
    "adm_active_bans": ("有効なブロック", "Active bans"),
    "adm_all_bans": ("すべてのブロック", "All bans"),
    "adm_never": ("解除まで", "until removed"),
    "adm_none": ("ありません。", "None."),
    "adm_search_label": ("検索", "Search"),
    "adm_search_placeholder": (
        "ログインID、メールアドレス、IPアドレス",
        "Login ID, email address or IP address",
    ),
    "adm_search": ("検索", "Search"),
    "adm_search_by_ip": (
        "このIPアドレスからのイベントがあるアカウント",
        "Accounts with events from this IP",
    ),
    "adm_search_by_text": (
        "ログインIDまたはメールアドレスの前方一致",
        "Login ID or email address starting with this",
    ),
    "adm_results": ("{n}件", "{n} found"),
    "adm_status_ok": ("通常", "normal"),
    "adm_status_restricted": ("利用制限中", "restricted"),
    "adm_status_reset": ("パスワード再設定待ち", "reset required"),
    "adm_status_two_step": ("追加認証を要求中", "two-step required"),
    "adm_status_suspended": ("休眠停止中", "suspended"),
    "adm_phone": ("電話番号", "Phone"),
    "adm_last_login": ("最終ログイン", "Last login"),
    "adm_two_step_mode": ("2段階認証の設定", "Two-step setting"),
    "adm_active_sessions": ("ログイン中のセッション", "Active sessions"),
    "adm_lock": ("一時ロック", "Temporary lock"),
    "adm_locked_until": ("{until} までロック中", "locked until {until}"),
    "adm_actions": ("操作", "Actions"),
    "adm_act_unlock": ("ロックを解除", "Unlock"),
    "adm_act_unlock_hint": (
        "ログインIDの一時ロックと試行回数を消します。",
        "Clears the login ID's temporary lock and its count of tries.",
    ),
    "adm_act_two_step": ("次回ログインで追加認証を要求", "Require two-step at next login"),
    "adm_act_two_step_off": ("追加認証の要求を取り消す", "Clear the two-step requirement"),
    "adm_act_restrict": ("利用を制限", "Restrict"),
    "adm_act_unrestrict": ("利用制限を解除", "Lift the restriction"),
    "adm_act_force_reset": ("パスワード再設定を強制", "Force a password reset"),
    "adm_act_force_reset_hint": (
        "すべてのセッションを終了し、次回ログイン時に追加認証とパスワード再設定を求めます。"
        "本人にお知らせが届きます。",
        "Ends every session; the next login needs the second step and a new password. "
        "The owner is notified.",
    ),
    "adm_reason": ("理由（任意）", "Reason (optional)"),
    "adm_reason_required": ("理由（必須）", "Reason (required)"),
    "adm_done_unlock": ("ロックを解除しました。", "Unlocked."),
    "adm_done_require-two-step": (
        "追加認証の設定を変更しました。",
        "Two-step requirement updated.",
    ),
    "adm_done_restrict": ("利用を制限しました。", "The account is restricted."),
    "adm_done_unrestrict": ("利用制限を解除しました。", "The restriction is lifted."),
    "adm_done_force-reset": (
        "パスワード再設定を求めるようにしました。",
        "A password reset is now required.",
    ),
    "adm_events": ("セキュリティイベント", "Security events"),
    "adm_devices": ("端末", "Devices"),
    "adm_trusted": ("信頼済み", "trusted"),
    "adm_known": ("既知", "known"),
    "adm_ask_again": ("次回確認", "ask again"),
    "adm_risk_history": ("リスク判定の履歴", "Risk history"),
    "adm_notices": ("お知らせ", "Notices"),
    "adm_read": ("既読", "read"),
    "adm_add_ban": ("ブロックを追加", "Add a ban"),
    "adm_minutes": ("期間（分、空欄は解除まで）", "Minutes (empty: until removed)"),
    "adm_remove": ("解除", "Remove"),
    "adm_tokens_title": ("APIトークン", "API tokens"),
    "adm_tokens_intro": (
        "自動化用のトークン（/api/v1/admin）。作成は `mamori admin token create NAME "
        "--scopes read,write` で行い、トークンはそのとき一度だけ表示されます。",
        "Tokens for automation (/api/v1/admin). Create them with `mamori admin token create "
        "NAME --scopes read,write`, which shows the token once.",
    ),
    "adm_active": ("有効", "active"),
    "adm_revoked_at": ("{at} に無効化", "revoked {at}"),
    "adm_revoke": ("無効化", "Revoke"),
    "adm_audit_title": ("監査ログ", "Audit log"),
    "adm_filter": ("絞り込む", "Filter"),
    "adm_older": ("さらに古いもの", "Older"),
    "err_reauth_required": (
        "この操作には直近5分以内の本人確認が必要です。",
        "This action needs a confirmation with your password and code first.",
    ),
    "err_insufficient_scope": (
        "このトークンの権限ではこの操作はできません。",
        "This token's scopes do not allow this.",
    ),
    "err_invalid_operator_name": (
        "オペレーター名は2〜64文字の英小文字、数字と . _ @ - で入力してください。",
        "Operator names are 2–64 lower-case letters, digits or . _ @ -.",
    ),
    "err_reason_required": ("理由を入力してください。", "Please give a reason."),
    "err_invalid_ban": ("ブロックの指定が正しくありません。", "That ban is not valid."),
    "adm_nav_incidents": ("インシデント", "Incidents"),
    "adm_inc_title": ("インシデント", "Incidents"),
    "adm_inc_one": ("インシデント #{id}", "Incident #{id}"),
    "adm_inc_status": ("状態", "Status"),
    "adm_inc_status_open": ("対応中", "open"),
    "adm_inc_status_closed": ("終了", "closed"),
    "adm_inc_opened": ("検知", "Opened"),
    "adm_inc_closed": ("終了", "Closed"),
    "adm_inc_reasons": ("検知理由", "Reasons"),
    "adm_inc_window": ("期間", "Window"),
    "adm_inc_volumes": ("件数", "Volumes"),
    "adm_inc_volumes_text": (
        "試行 {attempts} 件（失敗 {failures} 件）、攻撃元から {from_sources} 件",
        "{attempts} attempts ({failures} failed), {from_sources} from attack sources",
    ),
    "adm_inc_targeted": ("狙われた既存アカウント", "Existing accounts targeted"),
    "adm_inc_reports": ("レポート", "Report"),
    "adm_inc_timeline": ("経過", "Timeline"),
    "adm_inc_sources": ("攻撃元", "Attack sources"),
    "adm_inc_why": ("根拠", "Why"),
    "adm_inc_attempts": ("試行", "Attempts"),
    "adm_inc_failures": ("失敗", "Failures"),
    "adm_inc_list_confirmed": ("パスワードが一致したアカウント", "Password confirmed"),
    "adm_inc_list_logged-in": ("ログインされたアカウント", "Logged in"),
    "adm_inc_country": ("国", "Country"),
    "adm_inc_first_seen": ("最初の確認", "First seen"),
    "adm_inc_evidence": ("根拠", "Evidence"),
    "adm_inc_actions": ("対応", "Responses"),
    "adm_inc_started": ("開始", "Started"),
    "adm_inc_finished": ("完了", "Finished"),
    "adm_inc_progress": ("進捗", "Progress"),
    "adm_inc_action_block": ("攻撃元をブロック", "Block the sources"),
    "adm_inc_action_reset": ("パスワードを強制リセット", "Force password resets"),
    "adm_inc_action_notify": ("利用者に通知", "Notify the owners"),
    "adm_inc_preview": ("件数を確認", "Preview"),
    "adm_inc_pv_targets": ("対象 {n} 件", "{n} targets"),
    "adm_inc_pv_already": ("実施済み {n} 件", "{n} already done"),
    "adm_inc_pv_todo": ("今回 {n} 件", "{n} to do"),
    "adm_inc_pv_resume": ("再開 {n} 件", "{n} to resume"),
    "adm_inc_run": ("実行: {action}", "Run: {action}"),
    "adm_inc_done": ("{action}を実行しました。", "Done: {action}."),
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
    "err_suspended": (
        "長期間ご利用がなかったため、このアカウントの利用を停止しています。"
        "「パスワードをお忘れの方」から本人確認と新しいパスワードの設定を行うと再開できます。",
        "This account was suspended after a long time without use. Use \"Forgot your "
        "password?\" to confirm it's you and set a new password to reactivate it.",
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
