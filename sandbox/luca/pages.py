"""The HTML a JSON client can receive instead of JSON (spec §2.1, §2.5, F3, F6)."""

from __future__ import annotations

LOGIN_PAGE = """<!DOCTYPE html>
<html lang="tr">
<head>
<meta http-equiv="Content-Type" content="text/html; charset=UTF-8">
<title>Koza Projesi</title>
<script type="text/javascript">
if (document.cookie.indexOf('firstLoad=done') < 0) {
  document.cookie = 'firstLoad=done; path=/';
  window.location.reload();
}
</script>
</head>
<body>
<form id="girisForm" name="girisForm" method="post" action="/Yetki/Giris.do">
  <label>Üye No</label><input type="text" name="girisForm.orgCode" value="">
  <label>Kullanıcı Adı</label><input type="text" name="girisForm.userName" value="">
  <label>Parola</label><input type="password" name="girisForm.userPassword" value="">
  <img src="/Yetki/GirisCaptcha.do" alt="captcha">
  <input type="text" name="girisForm.captchaInput" value="">
  <input type="submit" value="Giriş">
</form>
</body>
</html>
"""


def struts_error(action: str) -> str:
    cls = f"tr.com.luca.koza.web.action.{action}Action"
    return f"""<!DOCTYPE html>
<html>
<head><title>Struts Problem Report</title></head>
<body>
<h2>Struts Problem Report</h2>
<p>Struts has detected an unhandled exception:</p>
<div id="errorDetails">
<b>Messages</b>:
<ol><li>Unable to instantiate Action, {cls}, defined for '{action}' in namespace '/Yetki'{cls}</li></ol>
</div>
</body>
</html>
"""


BAD_GATEWAY_PAGE = """<html>
<head><title>502 Bad Gateway</title></head>
<body>
<h1>Bad Gateway</h1>
<p>The proxy server received an invalid response from an upstream server.</p>
<hr><address>NetScaler</address>
</body>
</html>
"""
