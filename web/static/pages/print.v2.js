// The print buttons (slip, certificate): hidden in the page, since without scripts they would do nothing; shown here,
// where they open the browser's own print dialog (the page's print stylesheet makes the slip an A6 page).
document.querySelectorAll("[data-print]").forEach((button) => {
  button.addEventListener("click", () => window.print());
  button.hidden = false;
});
