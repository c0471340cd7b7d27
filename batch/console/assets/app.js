// Starts the NHS.UK frontend's components. Every page works without it.
import { initAll } from './nhsuk/nhsuk-frontend.min.js'

document.body.classList.add('js-enabled', 'nhsuk-frontend-supported')
initAll()
