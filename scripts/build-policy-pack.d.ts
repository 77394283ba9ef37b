/** Types for scripts/build-policy-pack.js (plain JavaScript, checked with @ts-check). */
export declare const POLICY_PACK_DIR: string;
export declare const POLICY_PACK_BUNDLE: string;
export declare function bundlePolicyPack(): Promise<string>;
