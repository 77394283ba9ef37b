import { expect, it } from "vitest";
import { planSubnets } from "../../infra/network.ts";

it("carves non-overlapping private /19s and public /22s out of the /16", () => {
  expect(planSubnets("10.20.0.0/16", 4)).toEqual({
    private: ["10.20.0.0/19", "10.20.32.0/19", "10.20.64.0/19", "10.20.96.0/19"],
    public: ["10.20.128.0/22", "10.20.132.0/22", "10.20.136.0/22", "10.20.140.0/22"],
  });
});

it("rejects blocks it cannot carve", () => {
  expect(() => planSubnets("10.0.0.0/20", 2)).toThrow(/a\.b\.0\.0\/16/);
  expect(() => planSubnets("10.0.0.0/16", 5)).toThrow(/azCount must be 1-4/);
});
