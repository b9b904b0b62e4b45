// Opt-outs (Spam Act): reply keywords that put a number on (or take it off) a suppression list, the
// tenant's acknowledgement, the provider's own opt-out list imported through the upstream budget,
// and the operators' routes for the lists.
export { createOptOutRules, normaliseKeyword } from './rules';
export { createAcknowledger, type Acknowledger } from './acknowledgements';
export { createOptOutImporter, OPTOUT_IMPORT_QUEUE, type OptOutImporter } from './provider-import';
export { suppressionAdminRoutes } from './admin-routes';
