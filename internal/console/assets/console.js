// Progressive enhancement only: every page works without this file.
// Copy buttons copy the text of the element named by data-copy.
document.addEventListener("click", function (ev) {
  var b = ev.target.closest("button[data-copy]");
  if (!b) return;
  var el = document.getElementById(b.getAttribute("data-copy"));
  if (!el || !navigator.clipboard) return;
  navigator.clipboard.writeText(el.textContent.trim()).then(function () {
    b.textContent = "Copied";
  });
});
// Show/hide buttons toggle the element named by data-toggle.
document.addEventListener("click", function (ev) {
  var b = ev.target.closest("button[data-toggle]");
  if (!b) return;
  var el = document.getElementById(b.getAttribute("data-toggle"));
  if (!el) return;
  el.hidden = !el.hidden;
  b.setAttribute("aria-expanded", String(!el.hidden));
  b.textContent = el.hidden ? "Show" : "Hide";
});
