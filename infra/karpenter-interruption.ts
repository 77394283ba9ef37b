/**
 * Karpenter's interruption queue: EventBridge forwards spot interruption warnings (2-minute
 * notice), rebalance recommendations, scheduled health events and instance state changes to
 * an SQS queue that Karpenter drains, so it cordons and drains the node before EC2 reclaims
 * it (and the trainer gets SIGTERM in time to flush a checkpoint).
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

/** EventBridge patterns Karpenter handles (Karpenter docs, "interruption"). */
export const INTERRUPTION_EVENTS = {
  "scheduled-change": { source: ["aws.health"], "detail-type": ["AWS Health Event"] },
  "spot-interruption": {
    source: ["aws.ec2"],
    "detail-type": ["EC2 Spot Instance Interruption Warning"],
  },
  rebalance: { source: ["aws.ec2"], "detail-type": ["EC2 Instance Rebalance Recommendation"] },
  "instance-state-change": {
    source: ["aws.ec2"],
    "detail-type": ["EC2 Instance State-change Notification"],
  },
  "capacity-reservation-interruption": {
    source: ["aws.ec2"],
    "detail-type": ["EC2 Capacity Reservation Instance Interruption Warning"],
  },
} as const;

export interface InterruptionQueueArgs {
  clusterName: string;
}

export class InterruptionQueue extends pulumi.ComponentResource {
  readonly queueName: pulumi.Output<string>;
  readonly queueArn: pulumi.Output<string>;
  /** The queue policy and EventBridge targets: until they exist no notice reaches the
   * queue, and once they are gone Karpenter drains nothing gracefully. The controller
   * depends on them so they outlive every node it manages. */
  readonly delivery: pulumi.Resource[];

  constructor(name: string, args: InterruptionQueueArgs, opts?: pulumi.ComponentResourceOptions) {
    super("yunshi:infra:KarpenterInterruptionQueue", name, {}, opts);
    const parent = { parent: this };
    const queue = new aws.sqs.Queue(
      `${name}-queue`,
      {
        name: `${args.clusterName}-karpenter`,
        // Interruption messages are useless after the 2-minute notice window.
        messageRetentionSeconds: 300,
        sqsManagedSseEnabled: true,
        tags: { "yunshi/cluster": args.clusterName },
      },
      parent,
    );
    const queuePolicy = new aws.sqs.QueuePolicy(
      `${name}-queue-policy`,
      {
        queueUrl: queue.url,
        policy: queue.arn.apply((arn) =>
          JSON.stringify({
            Version: "2012-10-17",
            Statement: [
              {
                Sid: "EventBridgeWrite",
                Effect: "Allow",
                Principal: { Service: ["events.amazonaws.com", "sqs.amazonaws.com"] },
                Action: "sqs:SendMessage",
                Resource: arn,
              },
              {
                Sid: "DenyHTTP",
                Effect: "Deny",
                Principal: "*",
                Action: "sqs:*",
                Resource: arn,
                Condition: { Bool: { "aws:SecureTransport": "false" } },
              },
            ],
          }),
        ),
      },
      parent,
    );
    const targets = Object.entries(INTERRUPTION_EVENTS).map(([event, pattern]) => {
      const rule = new aws.cloudwatch.EventRule(
        `${name}-${event}`,
        { eventPattern: JSON.stringify(pattern), tags: { "yunshi/cluster": args.clusterName } },
        parent,
      );
      return new aws.cloudwatch.EventTarget(
        `${name}-${event}`,
        { rule: rule.name, arn: queue.arn, targetId: "KarpenterInterruptionQueue" },
        parent,
      );
    });
    this.delivery = [queuePolicy, ...targets];
    this.queueName = queue.name;
    this.queueArn = queue.arn;
    this.registerOutputs({ queueName: this.queueName, queueArn: this.queueArn });
  }
}
