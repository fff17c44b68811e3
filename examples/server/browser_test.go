package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gousers/users/internal/testutil"
)

// browserTimeout bounds the whole walk through the pages in the browser.
const browserTimeout = 60 * time.Second

// chromium returns the path of a Chromium to drive. Without one the test is skipped, unless
// USERS_REQUIRE_CHROMIUM is set (as CI sets it): then it fails.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	if os.Getenv("USERS_REQUIRE_CHROMIUM") != "" {
		require.FailNow(t, "no Chromium on the PATH, and USERS_REQUIRE_CHROMIUM is set")
	}
	t.Skip("no Chromium on the PATH (apt-get install chromium); USERS_REQUIRE_CHROMIUM=1 makes this a failure")
	return ""
}

// newBrowser starts a headless Chromium at path, in a user-data directory of its own, and
// returns the context to drive it with, which ends after browserTimeout. The browser is
// closed when the test ends.
func newBrowser(t *testing.T, path string) context.Context {
	t.Helper()
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox, // as root, Chromium runs only without its sandbox
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	browser, cancelBrowser := chromedp.NewContext(alloc)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
	})
	// The first run starts the browser, which lives as long as its context: no timeout there.
	require.NoError(t, chromedp.Do(browser), "start Chromium")
	ctx, cancel := context.WithTimeout(browser, browserTimeout)
	t.Cleanup(cancel)
	return ctx
}

// freePort returns a port of 127.0.0.1 that was free a moment ago: the links of the mails
// are built from -base-url before the server listens, so the port must be known first.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	_, port, err := net.SplitHostPort(ln.Addr().String())
	require.NoError(t, err)
	require.NoError(t, ln.Close())
	return port
}

// linkLineRE finds the link of a mail, on a line of its own.
var linkLineRE = regexp.MustCompile(`(?m)^(http://\S+\?code=\S+?)\r?$`)

// waitLink waits until dir holds a mail with the subject and returns the link in the newest.
func waitLink(t *testing.T, dir, subject string) string {
	t.Helper()
	var link string
	testutil.Eventually(t, func() bool {
		files := emlFiles(t, dir)
		for i := len(files) - 1; i >= 0; i-- {
			m := readEML(t, files[i])
			if m.header.Get("Subject") != subject {
				continue
			}
			if found := linkLineRE.FindStringSubmatch(m.body); found != nil {
				link = found[1]
				return true
			}
		}
		return false
	}, "a mail %q with a link in %s", subject, dir)
	return link
}

// TestBrowser drives a real browser through the pages of the server binary: it confirms the
// address of a registration with the mailed link, opens the link of a mailed reset, is told
// that a too-short password is too short, sets a good one,
// signs in with it through the sign-in page (the session cookie), reads GET /user with the
// cookie, and is refused (403) when another origin's page posts a sign-out with the cookie,
// which a same-origin sign-out then does.
func TestBrowser(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the server binary is stopped with signals")
	}
	exe := chromium(t)
	dir := t.TempDir()
	bin := buildServer(t, dir)
	mailDir := filepath.Join(dir, "mail")
	port := freePort(t)
	base := "http://127.0.0.1:" + port

	const (
		adaEmail      = "ada@example.com"
		password1     = "correct horse battery staple"
		password2     = "a new pass phrase of ada"
		tooShort      = "short"
		adminEmail    = "root@example.com"
		adminPassword = "the administrator's pass phrase"
	)
	p := startProcess(t, bin,
		[]string{"-addr", "127.0.0.1:" + port, "-db", filepath.Join(dir, "users.db"), "-mail-dir", mailDir,
			"-rate-limit", "0", "-base-url", base},
		map[string]string{envAdminEmail: adminEmail, envAdminPassword: adminPassword})
	c := newClient(t, p.addr)
	c.expect(http.StatusAccepted, "POST", "/user/register", "", map[string]string{"email": adaEmail, "password": password1}, nil)
	verifyLink := waitLink(t, mailDir, "Confirm your e-mail address")
	require.True(t, strings.HasPrefix(verifyLink, base+"/verify?code="), "the link is built from -base-url: %s", verifyLink)

	// Another origin of the same site (another port of 127.0.0.1), whose page posts a form to
	// the server: the browser sends the SameSite=Lax cookie along.
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html lang="en"><title>Another site</title>`+
			`<form method="post" action="%s/user/sign-out"><button id="go">Win a prize</button></form></html>`, base)
	}))
	t.Cleanup(other.Close)

	ctx := newBrowser(t, exe)
	css := func(selector string) chromedp.CSS { return chromedp.CSS(selector) }
	// text returns the text of the first element the selector finds, once there is one with
	// text. It reads it with a script, again while the page is still changing under it.
	text := func(selector string) string {
		t.Helper()
		var got string
		testutil.Eventually(t, func() bool {
			s, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(
				`(document.querySelector(%q) || {innerText: ""}).innerText`, selector)))
			got = s
			return err == nil && s != ""
		}, "the text of %s", selector)
		return got
	}

	// The verification link opens a page whose button confirms the address.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(verifyLink),
		chromedp.WaitVisible(css("button")),
	), "the verification page")
	assert.Equal(t, "Confirm your e-mail address", text("h1"))
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(css("button")),
		chromedp.WaitVisible(css("#done")),
	), "the confirmation")
	assert.Equal(t, "Your e-mail address "+adaEmail+" is confirmed.", text("#done"))

	c.expect(http.StatusOK, "POST", "/user/forgot-password", "", map[string]string{"email": adaEmail}, nil)
	link := waitLink(t, mailDir, "Reset your password")
	require.True(t, strings.HasPrefix(link, base+"/reset-password?code="), "the link is built from -base-url: %s", link)

	// The link opens the form; a too-short password is refused in words.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(link),
		chromedp.WaitVisible(css("#password")),
	), "the reset form")
	assert.Equal(t, "Choose a new password", text("h1"))
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SendKeys(css("#password"), tooShort),
		chromedp.Submit(css("#password")),
		chromedp.WaitVisible(css(`[role="alert"]`)),
	), "a too-short password")
	assert.Equal(t, "The password must have at least 8 characters.", text(`[role="alert"]`))

	// A good password is set; the success page leads to the sign-in page, which sets the
	// session cookie.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SendKeys(css("#password"), password2),
		chromedp.Submit(css("#password")),
		chromedp.WaitVisible(css("#done")),
	), "a good password")
	assert.Equal(t, "Password changed", text("h1"))
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(css(`a[href="sign-in"]`)),
		chromedp.WaitVisible(css("#username")),
		chromedp.SendKeys(css("#username"), adaEmail),
		chromedp.SendKeys(css("#password"), password2),
		chromedp.Submit(css("#password")),
		chromedp.WaitVisible(css("#done")),
	), "the sign-in")
	assert.Equal(t, "You are signed in as "+adaEmail+".", text("#done"))

	got, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{base}})
	require.NoError(t, err)
	require.Len(t, got.Cookies, 1)
	cookie := got.Cookies[0]
	assert.Equal(t, "users_session", cookie.Name)
	assert.True(t, cookie.HTTPOnly, "no script reads the session")
	assert.Equal(t, network.CookieSameSiteLax, cookie.SameSite)

	// The API takes the cookie.
	currentUser := func() string {
		t.Helper()
		require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(base+"/user")))
		return text("body")
	}
	assert.Contains(t, currentUser(), `"username":"`+adaEmail+`"`)

	// Another origin's form cannot sign ada out: 403, and the session lives on.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(other.URL),
		chromedp.WaitVisible(css("#go")),
		chromedp.Click(css("#go")),
	), "the other origin's form")
	var body string
	testutil.Eventually(t, func() bool {
		// The page changes under the script while the form's answer loads: try again.
		page, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(
			`location.href.startsWith(%q) && document.body ? document.body.innerText : ""`, base)))
		body = page
		return err == nil && strings.Contains(page, "status")
	}, "the answer to the other origin's form")
	assert.Contains(t, body, `"status":403`)
	assert.Contains(t, body, "cross-origin")
	assert.Contains(t, currentUser(), `"username":"`+adaEmail+`"`, "the session lives on")

	// The site's own sign-out page does sign out.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(base+"/sign-out"),
		chromedp.Click(css("button")),
		chromedp.WaitVisible(css("#done")),
	), "the sign-out page")
	assert.Equal(t, "You are signed out.", text("#done"))
	assert.Contains(t, currentUser(), `"status":401`)

	p.terminate(t)
	log := p.stderr.String()
	for _, secret := range []string{adminPassword, password1, password2, tooShort, cookie.Value,
		strings.TrimPrefix(verifyLink, base+"/verify?code="), strings.TrimPrefix(link, base+"/reset-password?code=")} {
		assert.NotContains(t, log, secret, "a secret in the log")
	}
}
