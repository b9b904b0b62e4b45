// Progressive enhancement: with JavaScript, post the same fields as JSON and show the gateway's
// answer (the envelope) on the page; without it, the browser posts the form and follows the 303.
(function () {
  const form = document.getElementById('contact');
  const result = document.getElementById('result');
  form.addEventListener('submit', async function (event) {
    event.preventDefault();
    const fields = Object.fromEntries(new FormData(form).entries());
    result.textContent = 'Sending…';
    try {
      const response = await fetch(form.action, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify(fields),
      });
      const body = await response.json();
      result.textContent = response.status + ' ' + JSON.stringify(body, null, 2);
      result.dataset.status = String(response.status);
      if (response.ok) form.reset();
    } catch (error) {
      result.textContent = 'Could not reach the gateway: ' + error;
    }
  });
})();
