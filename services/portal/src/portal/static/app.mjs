// Starts GOV.UK Frontend's components (error summary focus, radios, header menu).
import { initAll } from "./vendor/govuk-frontend.min.js";

initAll();
