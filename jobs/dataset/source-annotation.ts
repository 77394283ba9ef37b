/**
 * What every reader (VOC, YOLO, labelme) produces: pictures with boxes in one neutral form,
 * before classes are resolved and before boxes meet the picture's real size.
 */
import type { DatasetProblem } from "./problems.ts";

export const SOURCE_FORMATS = ["voc", "yolo", "labelme"] as const;
export type SourceFormat = (typeof SOURCE_FORMATS)[number];

export interface SourceBox {
  /** The label exactly as written (stray spaces included). */
  readonly label: string;
  /**
   * Box edges. `pixels`: 0-based continuous coordinates, so a box over pixel columns
   * 0..9 is x1 = 0, x2 = 10. `normalized`: fractions of the picture's width and height
   * (YOLO), scaled once the real size is known.
   */
  readonly x1: number;
  readonly y1: number;
  readonly x2: number;
  readonly y2: number;
  readonly units: "pixels" | "normalized";
  /** VOC `difficult`: kept, and ignored by MMDetection in training (COCO iscrowd). */
  readonly difficult: boolean;
  /** Where the box is written: the annotation file and its 1-based line. */
  readonly line?: number;
}

export interface SourceImage {
  /** The picture, relative to the source folder (posix), exactly as named on disk. */
  readonly image: string;
  /** The annotation file it came from; undefined for unlabelled background pictures. */
  readonly annotation: string | undefined;
  /** The line of the annotation file that names the picture (<filename>, imagePath). */
  readonly imageLine?: number;
  readonly boxes: readonly SourceBox[];
  /** The size the annotation file claims, when it says one. */
  readonly declaredSize?: { readonly width: number; readonly height: number };
}

export interface SourceRead {
  readonly images: readonly SourceImage[];
  /** Errors: nothing is written when there is any. */
  readonly problems: readonly DatasetProblem[];
  /** Reported, not fatal (e.g. a file that was GBK, a shape that is not a box). */
  readonly notes: readonly DatasetProblem[];
  /** Pictures without an annotation file. */
  readonly unlabeled: readonly string[];
  /** Class order the source itself records (LabelImg's classes.txt), if any. */
  readonly classOrder?: readonly string[];
  /**
   * Which pixels the coordinates refer to. LabelImg (Qt's QImage) shows a picture as
   * stored, ignoring its EXIF orientation; labelme turns it upright first.
   */
  readonly frame: "stored" | "upright";
}
