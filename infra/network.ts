/**
 * The VPC: public subnets (NAT, load balancers) and private subnets (all nodes) across
 * several AZs, NAT egress, and an S3 gateway endpoint so checkpoint traffic skips the NAT
 * gateway's per-GB charge. Built from plain aws.ec2 resources so every route table is ours
 * to attach the endpoint to.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

export interface NetworkArgs {
  /** Used for the Karpenter/Kubernetes discovery tags on the private subnets. */
  clusterName: string;
  region: string;
  /** IPv4 /16. @default "10.0.0.0/16" */
  cidr?: string;
  /** Number of AZs (2-4). @default 2 */
  azCount?: number;
  /** @default "single" */
  natGateways?: "single" | "perAz";
}

export interface SubnetPlan {
  readonly private: string[];
  readonly public: string[];
}

/**
 * Carve a /16 into large private /19s (the VPC CNI gives every pod a VPC address) at the
 * bottom and small public /22s (only NAT gateways and load balancers) from the middle.
 */
export function planSubnets(vpcCidr: string, azCount: number): SubnetPlan {
  const m = /^(\d+)\.(\d+)\.0\.0\/16$/.exec(vpcCidr);
  if (m === null) throw new Error(`planSubnets: expected an a.b.0.0/16 block, got "${vpcCidr}"`);
  if (azCount < 1 || azCount > 4)
    throw new Error(`planSubnets: azCount must be 1-4, got ${azCount}`);
  const prefix = `${m[1]}.${m[2]}`;
  const idx = Array.from({ length: azCount }, (_, i) => i);
  return {
    private: idx.map((i) => `${prefix}.${i * 32}.0/19`),
    public: idx.map((i) => `${prefix}.${128 + i * 4}.0/22`),
  };
}

export class Network extends pulumi.ComponentResource {
  readonly vpcId: pulumi.Output<string>;
  readonly privateSubnetIds: pulumi.Output<string>[];
  readonly publicSubnetIds: pulumi.Output<string>[];
  readonly s3EndpointId: pulumi.Output<string>;

  constructor(name: string, args: NetworkArgs, opts?: pulumi.ComponentResourceOptions) {
    super("yunshi:infra:Network", name, {}, opts);
    const cidr = args.cidr ?? "10.0.0.0/16";
    const azCount = args.azCount ?? 2;
    const plan = planSubnets(cidr, azCount);
    const parent = { parent: this };
    const tags = { "yunshi/cluster": args.clusterName };

    const azs = aws.getAvailabilityZonesOutput({ state: "available" }, parent);
    const vpc = new aws.ec2.Vpc(
      `${name}-vpc`,
      {
        cidrBlock: cidr,
        enableDnsHostnames: true,
        enableDnsSupport: true,
        tags: { ...tags, Name: `${args.clusterName}-vpc` },
      },
      parent,
    );
    const igw = new aws.ec2.InternetGateway(`${name}-igw`, { vpcId: vpc.id, tags }, parent);
    const publicRt = new aws.ec2.RouteTable(
      `${name}-public-rt`,
      { vpcId: vpc.id, routes: [{ cidrBlock: "0.0.0.0/0", gatewayId: igw.id }], tags },
      parent,
    );

    const publicSubnets = plan.public.map(
      (block, i) =>
        new aws.ec2.Subnet(
          `${name}-public-${i}`,
          {
            vpcId: vpc.id,
            cidrBlock: block,
            availabilityZone: azs.names.apply((n) => azName(n, i)),
            mapPublicIpOnLaunch: false,
            tags: {
              ...tags,
              Name: `${args.clusterName}-public-${i}`,
              "kubernetes.io/role/elb": "1",
            },
          },
          parent,
        ),
    );
    publicSubnets.forEach(
      (s, i) =>
        new aws.ec2.RouteTableAssociation(
          `${name}-public-${i}`,
          { subnetId: s.id, routeTableId: publicRt.id },
          parent,
        ),
    );

    const natCount = args.natGateways === "perAz" ? azCount : 1;
    const nats = Array.from({ length: natCount }, (_, i) => {
      const eip = new aws.ec2.Eip(`${name}-nat-${i}`, { domain: "vpc", tags }, parent);
      return new aws.ec2.NatGateway(
        `${name}-nat-${i}`,
        { allocationId: eip.id, subnetId: publicSubnets[i]!.id, tags },
        { parent: this, dependsOn: [igw] },
      );
    });

    const privateRts: aws.ec2.RouteTable[] = [];
    const privateSubnets = plan.private.map((block, i) => {
      const subnet = new aws.ec2.Subnet(
        `${name}-private-${i}`,
        {
          vpcId: vpc.id,
          cidrBlock: block,
          availabilityZone: azs.names.apply((n) => azName(n, i)),
          tags: {
            ...tags,
            Name: `${args.clusterName}-private-${i}`,
            "kubernetes.io/role/internal-elb": "1",
            // Karpenter's EC2NodeClass selects subnets by this tag.
            "karpenter.sh/discovery": args.clusterName,
          },
        },
        parent,
      );
      const nat = nats[Math.min(i, nats.length - 1)]!;
      const rt = new aws.ec2.RouteTable(
        `${name}-private-rt-${i}`,
        { vpcId: vpc.id, routes: [{ cidrBlock: "0.0.0.0/0", natGatewayId: nat.id }], tags },
        parent,
      );
      privateRts.push(rt);
      new aws.ec2.RouteTableAssociation(
        `${name}-private-${i}`,
        { subnetId: subnet.id, routeTableId: rt.id },
        parent,
      );
      return subnet;
    });

    const s3Endpoint = new aws.ec2.VpcEndpoint(
      `${name}-s3`,
      {
        vpcId: vpc.id,
        serviceName: `com.amazonaws.${args.region}.s3`,
        vpcEndpointType: "Gateway",
        routeTableIds: privateRts.map((rt) => rt.id),
        tags,
      },
      parent,
    );

    this.vpcId = vpc.id;
    this.privateSubnetIds = privateSubnets.map((s) => s.id);
    this.publicSubnetIds = publicSubnets.map((s) => s.id);
    this.s3EndpointId = s3Endpoint.id;
    this.registerOutputs({
      vpcId: this.vpcId,
      privateSubnetIds: this.privateSubnetIds,
      publicSubnetIds: this.publicSubnetIds,
    });
  }
}

function azName(names: string[], i: number): string {
  const az = names[i];
  if (az === undefined)
    throw new Error(
      `The region has only ${names.length} available AZs but yunshi:availabilityZones asks for more; lower it.`,
    );
  return az;
}
