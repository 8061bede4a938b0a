/** What the change-calendar reader loads at its first read (ssm-change-calendar.ts); see sns.ts. */
export { GetCalendarStateCommand, SSMClient } from '@aws-sdk/client-ssm';
