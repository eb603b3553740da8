// The door's scanner. The camera's picture goes to BarcodeDetector: the browser's own where it has one, else the
// vendored ZXing build (barcode-detector), whose WebAssembly file vaxbook serves itself. What it reads goes into the
// check-in form, which htmx posts; a photo is the fallback for a device whose camera will not start. The page hides
// the scanner (without scripts it would do nothing); this shows it.
(() => {
  // a check-in or a step recorded: the fields typed by hand were that person's, so the next in the queue starts
  // from empty fields, in the code's (a refused code stays, to mend one digit rather than type it all again)
  document.body.addEventListener("checked-in", () => {
    for (const name of ["code", "cccd_last4", "date_of_birth"]) {
      const typed = document.getElementById(name);
      if (typed) typed.value = "";
    }
    const code = document.getElementById("code");
    if (code) code.focus({ preventScroll: true });
  });
  const form = document.getElementById("scan-form");
  const field = document.getElementById("scanned");
  const video = document.getElementById("camera");
  const status = document.getElementById("scan-status");
  const startButton = document.getElementById("start-camera");
  const photo = document.getElementById("photo");
  if (!form || !window.BarcodeDetector) return;
  // the page hides the scanner, which does nothing without this script: shown now that it can work
  const scanner = document.getElementById("scanner");
  if (scanner) scanner.hidden = false;
  if (window.BarcodeDetectionAPI) {
    window.BarcodeDetectionAPI.prepareZXingModule({
      overrides: { locateFile: (path, prefix) => (path.endsWith(".wasm") ? form.dataset.wasm : prefix + path) },
    });
  }
  const detector = new window.BarcodeDetector({ formats: ["qr_code"] });
  let last = "";
  let lastAt = 0;
  let busy = false;

  function send(text) {
    // the same code held in view keeps being read: send it once, again only after a pause
    const now = Date.now();
    if (text === last && now - lastAt < 10000) return;
    last = text;
    lastAt = now;
    field.value = text;
    form.requestSubmit();
  }

  async function scan() {
    if (!busy && video.readyState >= 2) {
      busy = true;
      try {
        const found = await detector.detect(video);
        if (found.length) send(found[0].rawValue);
      } catch (error) {
        status.textContent = form.dataset.noCamera;
      } finally {
        busy = false;
      }
    }
    if (video.srcObject) setTimeout(scan, 200);
  }

  startButton.addEventListener("click", async () => {
    try {
      video.srcObject = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
      video.hidden = false;
      await video.play();
      status.textContent = form.dataset.scanning;
      startButton.hidden = true;
      scan();
    } catch (error) {
      status.textContent = form.dataset.noCamera;
    }
  });

  photo.addEventListener("change", async () => {
    const file = photo.files && photo.files[0];
    if (!file) return;
    // a new photo is a new person: the last one's answer must not stand as this one's while it is read
    const answer = document.getElementById("answer");
    if (answer) answer.replaceChildren();
    try {
      const found = await detector.detect(await createImageBitmap(file));
      if (found.length) {
        last = "";
        send(found[0].rawValue);
      } else {
        status.textContent = form.dataset.unreadable;
      }
    } catch (error) {
      status.textContent = form.dataset.unreadable;
    }
    photo.value = "";
  });
})();
