/**
 * Where a converted dataset's files go: the spec's dataset.train/val paths (relative to
 * dataset.uri) and classes when --spec is given, else yunshi's default layout, which is the
 * README example's: annotations/{train,val}.json with pictures under train/ and val/.
 */
import { posix } from "node:path";
import type { Experiment } from "../spec/experiment.ts";
import type { Subset } from "./split.ts";

export interface SubsetLayout {
  readonly annotations: string;
  /** Folder of pictures, relative to the dataset root, without a trailing slash. */
  readonly images: string;
}

export interface DatasetLayout {
  readonly train: SubsetLayout;
  readonly val: SubsetLayout;
  /** Where this layout came from, for messages: "exp.yaml" or "the default layout". */
  readonly origin: string;
}

export const DEFAULT_LAYOUT: DatasetLayout = {
  train: { annotations: "annotations/train.json", images: "train" },
  val: { annotations: "annotations/val.json", images: "val" },
  origin: "the default layout",
};

const folder = (p: string): string => posix.normalize(p).replace(/\/+$/, "").replace(/^\.$/, "");

export function layoutFromSpec(exp: Experiment, specFile: string): DatasetLayout {
  const d = exp.dataset;
  return {
    train: { annotations: posix.normalize(d.train.annotations), images: folder(d.train.images) },
    val: { annotations: posix.normalize(d.val.annotations), images: folder(d.val.images) },
    origin: specFile,
  };
}

export function subsetLayout(layout: DatasetLayout, subset: Subset): SubsetLayout {
  return subset === "train" ? layout.train : layout.val;
}

/** The image path of a picture inside the dataset root. */
export function imagePathIn(layout: SubsetLayout, fileName: string): string {
  return layout.images === "" ? fileName : `${layout.images}/${fileName}`;
}
