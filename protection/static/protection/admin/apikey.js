// API key admin: a copy button for keys shown once, reCAPTCHA settings
// shown only while the key requires reCAPTCHA, the Turnstile action only
// while the key uses Turnstile. A static file (no inline
// script), loaded by ApiKeyAdmin.Media and the show-once page.
"use strict";
(function () {
  function copyKey(button) {
    const input = document.getElementById(button.dataset.copyTarget);
    if (!input) return;
    const done = () => { button.textContent = "Copied"; };
    input.select();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(done, () => {
        document.execCommand("copy");
        done();
      });
    } else {
      document.execCommand("copy");
      done();
    }
  }

  const RECAPTCHA_ROWS = [".field-recaptcha_version", ".field-recaptcha_action", ".field-recaptcha_min_score"];

  function toggleRecaptcha() {
    const box = document.querySelector('input[name="required_verifications"][value="recaptcha"]');
    if (!box) return;
    for (const selector of RECAPTCHA_ROWS) {
      for (const row of document.querySelectorAll(selector)) row.hidden = !box.checked;
    }
  }

  function toggleCaptchaAction() {
    const box = document.querySelector('input[name="required_verifications"][value="turnstile"]');
    const select = document.querySelector('select[name="captcha"]');
    const turnstile = (box && box.checked) || (select && select.value === "turnstile");
    for (const row of document.querySelectorAll(".field-captcha_action")) row.hidden = !turnstile;
  }

  document.addEventListener("DOMContentLoaded", function () {
    for (const button of document.querySelectorAll("button.gatehouse-copy")) {
      button.addEventListener("click", () => copyKey(button));
    }
    for (const input of document.querySelectorAll("input.gatehouse-raw-key")) {
      input.addEventListener("focus", () => input.select());
    }
    const box = document.querySelector('input[name="required_verifications"][value="recaptcha"]');
    if (box) {
      box.addEventListener("change", toggleRecaptcha);
      toggleRecaptcha();
    }
    const turnstileBox = document.querySelector('input[name="required_verifications"][value="turnstile"]');
    const captchaSelect = document.querySelector('select[name="captcha"]');
    for (const control of [turnstileBox, captchaSelect]) {
      if (control) control.addEventListener("change", toggleCaptchaAction);
    }
    if (turnstileBox || captchaSelect) toggleCaptchaAction();
  });
})();
