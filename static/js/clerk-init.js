// Clerk's browser SDK, loaded from the Frontend API host: it keeps the __session cookie fresh and
// provides the sign-in form, the user button, sign-out and the expired-session refresh.
(function () {
  "use strict";
  var REFRESH_GUARD = "codedrill-session-refresh";

  function safeNext(value) {
    return value && value.charAt(0) === "/" && value.charAt(1) !== "/" ? value : "/";
  }

  window.addEventListener("load", async function () {
    if (!window.Clerk) return;
    await window.Clerk.load({
      ui: { ClerkUI: window.__internal_ClerkUICtor },
      signInUrl: "/sign-in/",
      afterSignOutUrl: "/sign-in/",
    });
    var clerk = window.Clerk;

    var signIn = document.querySelector("[data-clerk-sign-in]");
    if (signIn) {
      var next = safeNext(signIn.getAttribute("data-next"));
      if (clerk.isSignedIn) { window.location.assign(next); return; }
      var loading = signIn.querySelector("[data-clerk-loading]");
      if (loading) loading.remove();
      clerk.mountSignIn(signIn, { forceRedirectUrl: next, signUpForceRedirectUrl: next });
    }

    var userButton = document.querySelector("[data-clerk-user-button]");
    if (userButton && clerk.isSignedIn) clerk.mountUserButton(userButton);

    if (document.querySelector("[data-clerk-sign-out]")) {
      await clerk.signOut({ redirectUrl: "/sign-in/" });
    }

    var refresh = document.querySelector("[data-clerk-refresh]");
    if (refresh) {
      var target = safeNext(refresh.getAttribute("data-next"));
      // Reload once with the refreshed cookie; a second expired page means the session is gone.
      var alreadyTried = sessionStorage.getItem(REFRESH_GUARD) === target;
      if (clerk.isSignedIn && !alreadyTried) {
        sessionStorage.setItem(REFRESH_GUARD, target);
        window.location.replace(target);
      } else {
        sessionStorage.removeItem(REFRESH_GUARD);
        window.location.replace("/sign-in/?next=" + encodeURIComponent(target));
      }
      return;
    }
    sessionStorage.removeItem(REFRESH_GUARD);
  });
})();
