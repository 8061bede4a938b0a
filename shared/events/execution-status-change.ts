import * as z from '#shared/zod.ts';

/** `detail-type` of the event Step Functions puts on the default EventBridge bus when a Standard execution changes status. */
export const EXECUTION_STATUS_CHANGE_DETAIL_TYPE = 'Step Functions Execution Status Change';

/** Execution statuses that end a run without the workflow having recorded an outcome itself (maybe). */
export const ABNORMAL_EXECUTION_STATUSES = ['FAILED', 'TIMED_OUT', 'ABORTED'] as const;

/**
 * A "Step Functions Execution Status Change" event (the fields the detector reads). `detail.name` is the execution
 * name, which the watchdog sets to the incident id.
 */
export const ExecutionStatusChangeEvent = z.object({
  'detail-type': z.literal(EXECUTION_STATUS_CHANGE_DETAIL_TYPE),
  source: z.literal('aws.states'),
  detail: z.object({
    executionArn: z.string(),
    stateMachineArn: z.string(),
    name: z.string().check(z.minLength(1), z.maxLength(80)),
    status: z.string(),
    cause: z.nullish(z.string()),
    error: z.nullish(z.string()),
  }),
});
export type ExecutionStatusChangeEvent = z.infer<typeof ExecutionStatusChangeEvent>;
