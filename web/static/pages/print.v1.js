// The slip's print button: the browser's own print dialog (the page's print stylesheet makes it an A6 slip).
document.querySelectorAll("[data-print]").forEach((button) => button.addEventListener("click", () => window.print()));
