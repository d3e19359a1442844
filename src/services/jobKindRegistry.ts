// Every kind of job a runner can execute registers its handler here, in one place.
import './runJobKind.ts';
import './workflows.ts';
import './reviews.ts';
// Executed by the server itself (registerServerJobKind), not by runners.
import './webhookDelivery.ts';
import './maintenance.ts';
import './searchIndex.ts';
import './memoryIndex.ts';
