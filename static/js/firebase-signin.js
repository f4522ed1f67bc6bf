// "Sign in with Google" through Firebase Authentication.
//
// The Firebase web SDK (compat build, exposing window.firebase) is not bundled here; when
// it is served from static/ and loaded before this file, the button signs in with a popup
// and exchanges the Firebase ID token for a Django session. Without the SDK the button
// explains that Google sign-in is unavailable.
(function () {
  "use strict";

  function csrfToken(form) {
    var input = form.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function nextUrl(form) {
    var input = form.querySelector("input[name=next]");
    return input ? input.value : "";
  }

  function firebaseAuth(form) {
    var fb = window.firebase;
    if (!fb || typeof fb.initializeApp !== "function" || typeof fb.auth !== "function") {
      return null;
    }
    if (!fb.apps || fb.apps.length === 0) {
      fb.initializeApp({
        apiKey: form.dataset.apiKey,
        authDomain: form.dataset.authDomain,
        projectId: form.dataset.projectId
      });
    }
    return fb.auth();
  }

  function exchangeToken(form, idToken) {
    return fetch(form.action, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "X-CSRFToken": csrfToken(form),
        // Lets the lockout middleware answer in JSON rather than with an HTML page.
        "X-Requested-With": "XMLHttpRequest"
      },
      body: JSON.stringify({ id_token: idToken, next: nextUrl(form) })
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        if (response.ok && body.ok) {
          return body.redirect;
        }
        var message = (body.error && body.error.message) ||
          (response.status === 429 ? "Too many attempts. Please try again later." : "Google sign-in failed.");
        throw new Error(message);
      });
    });
  }

  function setUp(form) {
    var status = form.querySelector("[data-firebase-status]");
    var button = form.querySelector("button[type=submit]");
    function say(text) { if (status) { status.textContent = text; } }

    form.hidden = false;
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var auth = firebaseAuth(form);
      if (!auth) {
        say("Google sign-in is not available right now. Please log in with your email and password.");
        return;
      }
      button.disabled = true;
      say("Signing in with Google…");
      var provider = new window.firebase.auth.GoogleAuthProvider();
      auth.signInWithPopup(provider)
        .then(function (result) { return result.user.getIdToken(); })
        .then(function (idToken) { return exchangeToken(form, idToken); })
        .then(function (redirect) {
          // The Django session is what matters from here on; drop the SDK's own session.
          auth.signOut().catch(function () {});
          window.location.assign(redirect);
        })
        .catch(function (error) {
          button.disabled = false;
          say(error && error.message ? error.message : "Google sign-in failed.");
        });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("firebase-signin");
    if (form) { setUp(form); }
  });
})();
